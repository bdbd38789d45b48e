"""Files on the Hugging Face Hub, addressed as ``hf://OWNER/REPO[@REVISION][/PATH]`` (the form of
``huggingface_hub.HfFileSystem``), downloaded once into huggingface_hub's cache and read from it afterwards.

huggingface_hub's settings apply unchanged: ``HF_HUB_OFFLINE=1`` reads only the cache, ``HF_HUB_CACHE`` /
``HF_HOME`` place it, ``HF_TOKEN`` or ``hf auth login`` open private repositories. Every failure (offline and
not cached, no such repository, revision or file, no network) is one line naming the file.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

PREFIX = "hf://"


@dataclass(frozen=True)
class HubPath:
    """A folder or file in a Hub model repository: ``repo_id`` ("OWNER/REPO"), ``revision`` (a branch, tag or
    commit; None for the default branch) and ``path`` inside the repository ("" for its root)."""

    repo_id: str
    revision: str | None = None
    path: str = ""

    def __str__(self) -> str:
        revision = f"@{self.revision}" if self.revision else ""
        return f"{PREFIX}{self.repo_id}{revision}{'/' + self.path if self.path else ''}"

    def join(self, name: str) -> HubPath:
        """The file or folder ``name`` inside this folder."""
        return HubPath(self.repo_id, self.revision, posixpath.join(self.path, name) if self.path else name)

    @property
    def name(self) -> str:
        """The last component of ``path``."""
        return posixpath.basename(self.path)

    @property
    def parent(self) -> HubPath:
        """The folder holding this file or folder."""
        return HubPath(self.repo_id, self.revision, posixpath.dirname(self.path))


def is_hub_path(value: object) -> bool:
    """Whether ``value`` is an ``hf://`` address (a string; paths on disk never are)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def parse(address: str) -> HubPath:
    """The :class:`HubPath` of ``hf://OWNER/REPO[@REVISION][/PATH]``; ValueError for anything else."""
    if not is_hub_path(address):
        raise ValueError(f"{address!r} is not a Hugging Face Hub address (hf://OWNER/REPO[@REVISION][/PATH])")
    parts = address[len(PREFIX):].strip("/").split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(f"{address!r}: a Hub address names a repository, hf://OWNER/REPO[@REVISION][/PATH]")
    name, _, revision = parts[1].partition("@")
    if not name or (_ and not revision) or any(not part or part in (".", "..") for part in parts[2:]):
        raise ValueError(f"{address!r} is not a valid Hub address (hf://OWNER/REPO[@REVISION][/PATH])")
    return HubPath(f"{parts[0]}/{name}", revision or None, "/".join(parts[2:]))


def download(file: HubPath) -> Path:
    """The local path of ``file``, downloaded into the cache unless it is there already."""
    try:
        import huggingface_hub
        from huggingface_hub import constants, errors
    except ImportError:
        raise ImportError(f"{file}: hf:// addresses need huggingface_hub (pip install huggingface_hub)") from None
    try:
        return Path(huggingface_hub.hf_hub_download(file.repo_id, file.path, revision=file.revision))
    except errors.LocalEntryNotFoundError:
        if constants.HF_HUB_OFFLINE:
            raise FileNotFoundError(f"{file}: not in the Hugging Face cache ({constants.HF_HUB_CACHE})"
                                    f" and HF_HUB_OFFLINE is set; download it once online") from None
        raise FileNotFoundError(f"{file}: not in the Hugging Face cache and the Hub could not be reached "
                                f"(check the network, or HF_ENDPOINT)") from None
    except errors.GatedRepoError:
        raise PermissionError(f"{file}: the repository is gated; accept its terms on huggingface.co and log in "
                              f"(hf auth login or HF_TOKEN)") from None
    except errors.RepositoryNotFoundError:
        raise FileNotFoundError(f"{file}: no repository {file.repo_id} on the Hub (or it is private: log in with "
                                f"hf auth login or HF_TOKEN)") from None
    except errors.RevisionNotFoundError:
        raise FileNotFoundError(f"{file}: repository {file.repo_id} has no revision {file.revision!r}") from None
    except errors.EntryNotFoundError:
        raise FileNotFoundError(f"{file}: repository {file.repo_id} has no file {file.path!r}") from None
    except errors.HfHubHTTPError as error:
        raise OSError(f"{file}: the Hub answered {' '.join(str(error).split())[:200]}") from None


def download_files(folder: HubPath, names: list[str]) -> Path:
    """The local folder holding ``names`` of the Hub ``folder``, all from one commit (the first file's, so a
    push between two downloads cannot mix versions)."""
    first = download(folder.join(names[0]))
    commit = _snapshot_commit(first)
    pinned = HubPath(folder.repo_id, commit or folder.revision, folder.path)
    for name in names[1:]:
        download(pinned.join(name))
    return first.parent


def _snapshot_commit(path: Path) -> str | None:
    """The commit of a file in huggingface_hub's cache (``.../snapshots/<commit>/...``)."""
    parts = path.parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts[:-1] else None
