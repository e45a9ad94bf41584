from tests.orders.conftest import OrderWorld, ow

__all__ = ["OrderWorld", "ow"]
