"""Posts: questions and answers, articles and comments, the rules for writing them, the lists,
search, Markdown, and who follows what."""
