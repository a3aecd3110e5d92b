"""Images and files in conversations: uploaded over HTTP, checked by content, stored encrypted."""

from __future__ import annotations

import re
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from consult.errors import AccessDenied, NotFound, RuleViolation
from consult.messaging import Conversation
from storage import messages
from web import keys, schemas
from web.api import Api, RequestContext
from web.errors import ApiError

api = Api()

#: Largest upload: a phone photo of a report, or a scanned PDF.
MAX_UPLOAD = 10 * 1024 * 1024
_SAFE_NAME = re.compile(r"[^\w.\-() \u4e00-\u9fff]")


def sniff(head: bytes) -> str | None:
    """The content type the bytes really are, among those accepted; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


async def _member(ctx: RequestContext, conversation_id: int) -> Conversation:
    conversation = await messages.get_conversation(ctx.session, conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    if ctx.me.user_id not in await messages.members(ctx.session, conversation, ctx.today):
        raise AccessDenied(f"you are not a member of conversation {conversation_id}")
    return conversation


@api.operation(
    "POST",
    "/api/conversations/{conversation_id}/attachments",
    summary="Upload an image or file",
    tag="messaging",
    response=schemas.AttachmentOut,
    status=201,
    errors=(400, 404, 413, 415),
)
async def upload(ctx: RequestContext) -> schemas.AttachmentOut:
    """multipart/form-data with one part named `file`: JPEG, PNG, WebP or PDF, up to 10 MB, checked by
    its bytes (not its name or declared type). Stored encrypted; send it with a message of kind image or
    file and the returned id."""
    conversation = await _member(ctx, ctx.path_int("conversation_id"))
    if not ctx.request.content_type.startswith("multipart/"):
        raise ApiError(
            415, "upload with multipart/form-data and a part named file", code="unsupported_media_type"
        )
    reader = await ctx.request.multipart()
    part = await reader.next()
    while part is not None and (not isinstance(part, BodyPartReader) or part.name != "file"):
        part = await reader.next()
    if part is None:
        raise ApiError(
            400,
            "the form has no part named file",
            code="file_missing",
            errors=[{"field": "file", "message": "required"}],
        )
    chunks, size = [], 0
    while chunk := await part.read_chunk(256 * 1024):
        size += len(chunk)
        if size > MAX_UPLOAD:
            raise ApiError(
                413, f"files are limited to {MAX_UPLOAD // (1024 * 1024)} MB", code="file_too_large"
            )
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise RuleViolation("the file is empty", field="file")
    content_type = sniff(data[:16])
    if content_type is None:
        raise ApiError(
            415,
            "only JPEG, PNG and WebP images and PDF files can be sent",
            code="file_type",
            errors=[{"field": "file", "message": "not a JPEG, PNG, WebP or PDF file"}],
        )
    filename = _SAFE_NAME.sub("_", (part.filename or "file"))[:120] or "file"
    blob = await ctx.app[keys.BLOBS].put(ctx.session, data, content_type, created_by=ctx.me.user_id)
    await messages.add_attachment(
        ctx.session,
        blob_id=blob.id,
        conversation_id=conversation.id,
        uploaded_by=ctx.me.user_id,
        filename=filename,
        content_type=content_type,
        size=len(data),
    )
    await ctx.audit(
        "upload",
        "attachment",
        blob.id,
        resident_id=conversation.resident_id,
        detail={"content_type": content_type, "size": len(data)},
    )
    return schemas.AttachmentOut(
        id=blob.id,
        conversation_id=conversation.id,
        filename=filename,
        content_type=content_type,
        size=len(data),
        url=f"/api/attachments/{blob.id}",
    )


@api.operation(
    "GET",
    "/api/attachments/{attachment_id}",
    summary="Download an attachment",
    tag="messaging",
    errors=(404,),
)
async def download(ctx: RequestContext) -> web.Response:
    """The decrypted bytes, to members of the conversation only; every download is audited first."""
    attachment_id = ctx.request.match_info["attachment_id"]
    if not re.fullmatch(r"[0-9a-f]{32}", attachment_id):
        raise NotFound(f"no attachment {attachment_id!r}")
    row = await messages.get_attachment(ctx.session, attachment_id)
    if row is None:
        raise NotFound(f"no attachment {attachment_id}")
    conversation = await _member(ctx, row.conversation_id)
    await ctx.audit("download", "attachment", row.id, resident_id=conversation.resident_id)
    await ctx.session.flush()
    data = await ctx.app[keys.BLOBS].get(ctx.session, row.id)
    return web.Response(
        body=data,
        content_type=row.content_type,
        headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(row.filename)}",
            "Cache-Control": "private, no-store",
        },
    )
