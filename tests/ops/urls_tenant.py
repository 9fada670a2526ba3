from config.urls_tenant import *  # noqa: F403
from config.urls_tenant import urlpatterns as _tenant
from tests.ops.urls import test_patterns

urlpatterns = [*test_patterns, *_tenant]
