"""Sign-in (password, SMS code, WeChat), tokens, and the caller's roles and scope."""
