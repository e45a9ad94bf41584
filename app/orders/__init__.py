"""Service requests: 点单 → 审核 → 派单 → 接单 → 服务 → 评单."""
