"""Uploads: files sent over HTTP, stored under random names, served only to those who may read them."""
from urllib.parse import quote


def file_info(upload):
    """What a message says about its upload."""
    image = upload.content_type.startswith("image/")
    return {
        "id": upload.id,
        "name": upload.filename,
        "type": upload.content_type,
        "size": upload.size,
        "url": f"/uploads/{upload.token}/{quote(upload.filename, safe='')}",
        "image": image,
        "width": upload.width,
        "height": upload.height,
        "thumb_url": f"/uploads/{upload.token}/thumb" if upload.has_thumbnail else None,
    }
