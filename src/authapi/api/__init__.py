"""HTTP layer: thin routers that take dependencies, call one service, return a schema."""
