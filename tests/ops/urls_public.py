from config.urls_public import *  # noqa: F403
from config.urls_public import urlpatterns as _public
from tests.ops.urls import test_patterns

urlpatterns = [*test_patterns, *_public]
