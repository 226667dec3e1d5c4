"""The Ctrl+K search box: one search across documents, transcripts, photos and chats (app.core.find)."""
