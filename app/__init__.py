"""diandan: 点单 → 派单 → 接单 → 评单 for community volunteer service."""
