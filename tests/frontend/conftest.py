from tests.tenant_apps import test_browser

browser = test_browser.browser  # the shared Chromium fixture (Debian's binary, Playwright)
