"""Files in, clean articles out: reading, HTML, page splitting, furniture."""
