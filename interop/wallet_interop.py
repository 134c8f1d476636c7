"""The Python half of the wallet interop test, on the PyPI package bittensor-wallet.

create PATH NAME HOTKEY PASSWORD MESSAGE_HEX   -> JSON: addresses, signatures, btcli's env value
check  PATH NAME HOTKEY PASSWORD MESSAGE_HEX HOTKEY_SIG COLDKEY_SIG -> JSON: addresses, verified
"""
import json
import sys

from bittensor_wallet import Keypair, Wallet


def create(path, name, hotkey, password, message):
    wallet = Wallet(name=name, hotkey=hotkey, path=path)
    wallet.create_new_coldkey(
        n_words=12, use_password=True, overwrite=True, suppress=True, coldkey_password=password
    )
    wallet.create_new_hotkey(use_password=False, overwrite=True, suppress=True)
    cold = wallet.coldkey_file.get_keypair(password=password)
    hot = wallet.hotkey
    return {
        "coldkey": cold.ss58_address,
        "hotkey": hot.ss58_address,
        "hotkey_signature": hot.sign(message).hex(),
        "coldkey_signature": cold.sign(message).hex(),
        "env_var": wallet.coldkey_file.env_var_name(),
        "env_value": wallet.coldkey_file.save_password_to_env(password),
    }


def check(path, name, hotkey, password, message, hot_sig, cold_sig):
    wallet = Wallet(name=name, hotkey=hotkey, path=path)
    cold = wallet.coldkey_file.get_keypair(password=password)
    hot = wallet.hotkey
    return {
        "coldkey": cold.ss58_address,
        "coldkeypub": wallet.coldkeypub.ss58_address,
        "hotkey": hot.ss58_address,
        "hotkey_verified": Keypair(ss58_address=hot.ss58_address).verify(
            message, bytes.fromhex(hot_sig)
        ),
        "coldkey_verified": Keypair(ss58_address=cold.ss58_address).verify(
            message, bytes.fromhex(cold_sig)
        ),
    }


if __name__ == "__main__":
    command, path, name, hotkey, password, message = sys.argv[1:7]
    message = bytes.fromhex(message)
    if command == "create":
        out = create(path, name, hotkey, password, message)
    else:
        out = check(path, name, hotkey, password, message, *sys.argv[7:9])
    print(json.dumps(out))
