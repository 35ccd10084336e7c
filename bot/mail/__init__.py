"""Mail protection: the Graph mailbox adapter, the protect run and its log."""
