"""Server-rendered zh-CN pages, one module per area."""
