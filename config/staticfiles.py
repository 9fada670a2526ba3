"""Static files: hashed names, gzip (and brotli when installed) copies, long-cached by WhiteNoise."""

from __future__ import annotations

from whitenoise.middleware import WhiteNoiseMiddleware
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's manifest storage, except that a file missing from the manifest (``collectstatic`` not
    run yet: a test run or a shell without ``make assets``) is linked by its plain name instead of failing
    the page. Served that way by WhiteNoise's finders, short-cached."""

    manifest_strict = False

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            return name


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, also treating the staff app's Vite chunks (``app/assets/<name>-<content hash>.js``) as
    immutable: their own imports name them by Vite's hash, not Django's, and they never change under a name.
    Collected files (STATIC_ROOT, with their gzip/brotli copies) win over the finders' raw sources; the finders
    only fill in what ``collectstatic`` has not copied yet (WhiteNoise's default lets the raw source win, so
    bundles built into ``build/static`` went out uncompressed)."""

    def add_files_from_finders(self) -> None:
        collected = dict(self.files)
        super().add_files_from_finders()
        self.files.update(collected)

    def immutable_file_test(self, path: str, url: str) -> bool:
        if url.startswith(f"{self.static_prefix}app/assets/"):
            return True
        return bool(super().immutable_file_test(path, url))
