"""Chunks, windows and vectors on disk: chunking, embedders, the store, BM25, the writer,
the retriever."""
