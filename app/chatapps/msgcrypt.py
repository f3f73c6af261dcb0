"""The callback crypto WeCom (企业微信) documents; DingTalk's event subscription uses it too.

``msg_signature`` is the hex SHA-1 of the sorted concatenation of the callback Token, the
timestamp, the nonce and the encrypted text. The EncodingAESKey is 43 Base64 characters
(32 bytes once ``=`` is added); the text is AES-256-CBC with the key's first 16 bytes as IV,
padded PKCS#7 to 32-byte blocks, over 16 random bytes + the message's length (4 bytes, big
endian) + the message + the receive id (the corp id, which must match).
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """The documented ``msg_signature`` of a callback."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, encrypted))).encode()).hexdigest()  # noqa: S324 (the platform's own choice)


def key_of(aes_key: str) -> bytes:
    """The 32-byte AES key of an EncodingAESKey; ValueError when it is not one."""
    if len(aes_key) != 43:
        raise ValueError(
            f"the EncodingAESKey has 43 characters (it has {len(aes_key)}), "
            "e.g. 6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
        )
    try:
        key = base64.b64decode(aes_key + "=", validate=True)
    except ValueError as err:
        raise ValueError("the EncodingAESKey is not Base64 (letters, digits, + and /)") from err
    if len(key) != 32:
        raise ValueError("the EncodingAESKey does not decode to 32 bytes")
    return key


def encrypt(plain: str, aes_key: str, receive_id: str, random16: bytes | None = None) -> str:
    """``plain`` encrypted for ``receive_id`` as the platform does it (Base64 text)."""
    key = key_of(aes_key)
    prefix = random16 if random16 is not None else os.urandom(16)
    if len(prefix) != 16:
        raise ValueError("the random prefix has 16 bytes")
    message = plain.encode()
    data = prefix + struct.pack(">I", len(message)) + message + receive_id.encode()
    pad = BLOCK - len(data) % BLOCK
    data += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()


def decrypt(encrypted: str, aes_key: str, receive_id: str) -> str:
    """The message inside ``encrypted``; ValueError saying why when it cannot be one."""
    key = key_of(aes_key)
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except ValueError as err:
        raise ValueError("the encrypted text is not Base64") from err
    if not raw or len(raw) % 16:
        raise ValueError("the encrypted text is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    data = decryptor.update(raw) + decryptor.finalize()
    pad = data[-1]
    if not 1 <= pad <= BLOCK or data[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding: the text was not encrypted with this EncodingAESKey")
    data = data[:-pad]
    if len(data) < 20:
        raise ValueError("the decrypted text is too short to hold a message")
    (length,) = struct.unpack(">I", data[16:20])
    if 20 + length > len(data):
        raise ValueError("the message length inside the text is larger than the text")
    message, given_id = data[20 : 20 + length], data[20 + length :]
    if given_id != receive_id.encode():
        raise ValueError(
            f"the text is for receive id {given_id.decode(errors='replace')!r}, not {receive_id!r}"
        )
    try:
        return message.decode()
    except UnicodeDecodeError as err:
        raise ValueError("the message is not UTF-8") from err
