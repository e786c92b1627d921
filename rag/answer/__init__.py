"""Question in, cited answer out: the pipeline, answerers, prompt, evidence, citations."""
