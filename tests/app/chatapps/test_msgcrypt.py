"""``msgcrypt`` (WeCom's callback crypto) against the numbers of DingTalk's official samples of
the same crypto, the one DingTalk's event subscription (事件订阅) uses."""

from __future__ import annotations

import pytest

from app.chatapps import msgcrypt

# DingTalk's official callback crypto samples, github.com/open-dingtalk/DingTalk-Callback-Crypto
# at commit bd49e62ddd052d1d506674ac1e43edaecc915093: (file, token, aes_key, key, timestamp,
# nonce, encrypt, msg_signature, the plain text the sample expects).
VECTORS = [
    ("DingCallbackCrypto3.py", "mryue", "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
     "ding6ccabc44d2c8d38b", "1608001896814", "WL4PK6yA",
     "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDCYxx"
     "OK+HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3",
     "03044561471240d4a14bb09372dfcfd4fd0e40cb", '{"EventType":"check_url"}'),
    ("dingtalk_callback_crypto.rs", "123456", "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij",
     "suite4xxxxxxxxxxxxxxx", "1445827045067", "nEXhMP4r",
     "1a3NBxmCFwkCJvfoQ7WhJHB+iX3qHPsc9JbaDznE1i03peOk1LaOQoRz3+nlyGNhwmwJ3vDMG+OzrHMeiZI7gTRWVdU"
     "BmfxjZ8Ej23JVYa9VrYeJ5as7XM/ZpulX8NEQis44w53h1qAgnC3PRzM7Zc/D6Ibr0rgUathB6zRHP8PYrfgnNOS9Ph"
     "SBdHlegK+AGGanfwjXuQ9+0pZcy0w9lQ==",
     "5a65ceeef9aab2d149439f82dc191dd6c5cbe2c0",
     '{"EventType":"check_create_suite_url","Random":"LPIdSnlF","TestSuiteKey":"suite4xxxxxxxxxxxxxxx"}'),
    # DingTalkCrypto.go and DingTalkEncryptor.cs decrypt this one and print it (no expected
    # text is written down; it is the "success" the samples encrypt just before).
    ("DingTalkCrypto.go", "tokenxxxx", "o1w0aum42yaptlz8alnhwikjd3jenzt9cb9wmzptgus", "dingxxxxxx",
     "1605695694141", "WelUQl6bCqcBa2fM",
     "X1VSe9cTJUMZu60d3kyLYTrBq5578ZRJtteU94wG0Q4Uk6E/wQYeJRIC0/UFW5Wkya1Ihz9oXAdLlyC9TRaqsQ==",
     "f36f4ba5337d426c7d4bca0dbcb06b3ddc1388fc", "success"),
]  # fmt: skip
# The 16 random bytes each sample's text starts with (its first AES block, decrypted).
RANDOM = {"DingCallbackCrypto3.py": b"l7Y3EcX2CU5w8av3", "dingtalk_callback_crypto.rs":
          b"hU3bEfGZZewzhG5a", "DingTalkCrypto.go": b"WelUQl6bCqcBa2fM"}  # fmt: skip


@pytest.mark.parametrize(
    ("source", "token", "aes_key", "key", "stamp", "nonce", "encrypted", "signature", "plain"),
    VECTORS,
)
def test_the_official_samples_sign_and_decrypt_as_documented(
    source, token, aes_key, key, stamp, nonce, encrypted, signature, plain
):
    assert msgcrypt.signature(token, stamp, nonce, encrypted) == signature
    assert msgcrypt.decrypt(encrypted, aes_key, key) == plain
    with pytest.raises(ValueError, match="not 'ding-other'"):
        msgcrypt.decrypt(encrypted, aes_key, "ding-other")
    # With the sample's own 16 random bytes, encrypting gives its text back byte for byte.
    assert msgcrypt.encrypt(plain, aes_key, key, random16=RANDOM[source]) == encrypted
