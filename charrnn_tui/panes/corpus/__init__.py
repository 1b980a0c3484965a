"""The Corpus tab: built-in corpora, recent files, any file or folder, and a preview."""
