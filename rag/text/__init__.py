"""Text building blocks shared by every stage: sentences, words, tokens."""
