"""``files.*``: Slack's two-step external upload (get a URL, send the bytes there, complete it)."""

from __future__ import annotations

import copy
from typing import Any

from bot.dev.standin.server import Answer, SlackError
from bot.dev.standin.workspace import Workspace


class FileMethods(Workspace):
    """files.getUploadURLExternal, the upload itself, and files.completeUploadExternal."""

    def _api_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("filename") or not params.get("length"):
            raise SlackError("invalid_arguments")
        file_id = self._mint("F")
        self._files[file_id] = {
            "id": file_id,
            "name": params["filename"],
            "size": None,
            "completed": False,
            "alt_txt": params.get("alt_txt") or "",
            "content": b"",
        }
        return {"upload_url": f"{self.root_url}upload/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("files")
        if not isinstance(wanted, list) or not wanted:
            raise SlackError("invalid_arguments")
        files = []
        for item in wanted:
            file_id = item.get("id") if isinstance(item, dict) else None
            file = self._files.get(file_id) if isinstance(file_id, str) else None
            if file is None:
                raise SlackError("file_not_found")
            if file["size"] is None:
                raise SlackError("file_upload_not_found")  # nothing was uploaded to the URL
            file.update(completed=True, title=item.get("title") or file["name"])
            files.append(
                {
                    "id": file["id"],
                    "name": file["name"],
                    "title": file["title"],
                    "size": file["size"],
                    "alt_txt": file["alt_txt"],
                    "mimetype": _mimetype(file["content"]),
                    "url_private": f"{self.root_url}files/{file['id']}",
                }
            )
        channel_id = params.get("channel_id") or (str(params.get("channels") or "").split(",")[0] or None)
        if channel_id:
            channel = self._postable({"channel": channel_id})
            message = self._bot_message({"text": params.get("initial_comment") or ""})
            message.update(subtype="file_share", files=copy.deepcopy(files), upload=True)
            self._store_message(channel.id, message, params.get("thread_ts") or None)
        return {"files": files}

    def _receive_upload(self, file_id: str, data: bytes) -> Answer:
        file = self._files.get(file_id)
        if file is None:
            return Answer(404, "text/plain", b"Not Found")
        file["size"] = len(data)
        file["content"] = bytes(data)
        return Answer(200, "text/plain", f"OK - {len(data)}".encode())

    def file_bytes(self, file_id: str) -> tuple[str, bytes] | None:
        """An uploaded file's type and bytes (what the playground shows), or None."""
        with self._lock:
            file = self._files.get(file_id)
            if file is None or not file.get("completed"):
                return None
            return _mimetype(file["content"]), file["content"]

    def uploaded(self) -> list[dict[str, Any]]:
        """Every completed upload: id, name, title, alt_txt, size and bytes (for tests)."""
        with self._lock:
            return [copy.deepcopy(f) for f in self._files.values() if f.get("completed")]


def _mimetype(content: bytes) -> str:
    return "image/png" if content.startswith(b"\x89PNG") else "application/octet-stream"
