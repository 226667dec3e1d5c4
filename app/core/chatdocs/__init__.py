"""Documents attached to chat messages: read with the Documents index's extractors, put in the prompt
whole when they fit the model's context, else as the numbered passages that match the question."""
