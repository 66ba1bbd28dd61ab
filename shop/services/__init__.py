"""The domain rules. Plain functions: no request objects, the caller's transaction."""
