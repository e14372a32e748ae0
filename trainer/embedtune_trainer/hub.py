"""Share a model version folder on the Hugging Face Hub: create the repo, upload the folder.

As the tutorial's `save_to_hub(train_datasets=...)`, the model card lists the datasets the
model was trained on; `train_datasets` overrides what training recorded. Every failure
(no token, no network, refused by the Hub) becomes a `PushError` with one readable line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import huggingface_hub
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

# Training leftovers that are not part of the model.
IGNORED = ["checkpoints/**", "**/__pycache__/**", "*.tmp"]


class PushError(RuntimeError):
    """The upload could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class PushSettings:
    folder: Path
    repo_id: str
    private: bool = False
    token: str | None = None
    train_datasets: list[str] | None = None
    commit_message: str = "Upload model trained with embedtune"


def push_model(settings: PushSettings) -> str:
    """Upload `settings.folder` to `settings.repo_id`; returns the repo URL."""
    folder = Path(settings.folder)
    if not (folder / "modules.json").is_file():
        raise PushError(f"{folder} is not a model folder (no modules.json); train or export one first")
    token = settings.token or huggingface_hub.get_token()
    if not token:
        raise PushError("no Hugging Face token: pass --token, set HF_TOKEN, or run `hf auth login`")
    if settings.train_datasets is not None:
        set_card_datasets(folder / "README.md", settings.train_datasets)
    api = HfApi(token=token)
    try:
        repo = api.create_repo(settings.repo_id, private=settings.private, exist_ok=True, repo_type="model")
        api.upload_folder(
            folder_path=str(folder),
            repo_id=settings.repo_id,
            repo_type="model",
            ignore_patterns=IGNORED,
            commit_message=settings.commit_message,
        )
    except OfflineModeIsEnabled as exc:
        raise PushError(
            f"cannot push {settings.repo_id}: offline mode is on (HF_HUB_OFFLINE); {exc}"
        ) from exc
    except HfHubHTTPError as exc:
        raise PushError(f"the Hub refused the push to {settings.repo_id}: {_first_line(exc)}") from exc
    except Exception as exc:  # the HTTP client's own errors: DNS, refused connection, timeout
        raise PushError(
            f"could not reach the Hugging Face Hub to push {settings.repo_id} "
            f"({type(exc).__name__}: {_first_line(exc)}); check the network and try again"
        ) from exc
    return str(repo)


def set_card_datasets(readme: Path, datasets: list[str]) -> None:
    """Replace the `datasets:` list in the card's metadata, keeping the rest of the card."""
    card = ModelCard.load(readme) if readme.is_file() else ModelCard("---\n---\n")
    card.data.datasets = list(datasets) or None
    card.save(readme)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
