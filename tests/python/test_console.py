"""The web console (`/console/`) in a real headless browser: seed 004's
walkthrough end to end, driven by Playwright in Debian's chromium (which
`.ci/run` installs; without it these tests are skipped, and say so). Each
step checks the server's state through boto3 as well as the page, and a
screenshot of each screen, at 1280 px and at phone width, is saved under
target/test-output/console/.

The console is a client of the API like any other: every call is signed in
the page, so what a user may do is what the server's policies allow them,
and the server's own error messages are what the page shows."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import boto3
import pytest

from conftest import BOOTSTRAP_ACCESS_KEY_ID, BOOTSTRAP_SECRET_ACCESS_KEY, REPO_ROOT

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium: the console's browser tests are skipped")
SHOTS = REPO_ROOT / "target" / "test-output" / "console"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import run_trent

    with run_trent() as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


class Console:
    """One browser page on the console, with what the walkthrough needs."""

    def __init__(self, browser, server, name: str):
        self.server = server
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("console", lambda m: self.problems.append(m.text) if "Content Security Policy" in m.text else None)
        self.shots = SHOTS / name
        self.shots.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def snap(self, name: str) -> None:
        """A screenshot at 1280 px and at 375 px; no sideways scrolling on a phone."""
        self.count += 1
        self.page.screenshot(path=str(self.shots / f"{self.count:02}-{name}-1280.png"), full_page=True)
        self.page.set_viewport_size({"width": 375, "height": 800})
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{name}: {width} px wide at 375 px"
        self.page.screenshot(path=str(self.shots / f"{self.count:02}-{name}-375.png"), full_page=True)
        self.page.set_viewport_size({"width": 1280, "height": 900})

    def nav(self, link: str) -> None:
        self.page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()

    def sign_in(self, access: str, secret: str) -> str:
        page = self.page
        page.goto(self.server.url + "/console/")
        page.get_by_label("Access key ID").fill(access)
        page.get_by_label("Secret access key").fill(secret)
        page.get_by_label("Region").fill("us-east-1")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_test_id("whoami").wait_for()
        return page.get_by_test_id("whoami").text_content()

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        self.page.get_by_label("Access key ID").wait_for()
        stored = self.page.evaluate("JSON.stringify([Object.keys(sessionStorage), Object.keys(localStorage)])")
        assert json.loads(stored) == [[], []], "the credentials are forgotten on sign-out"


def kms_as(server, access: str, secret: str):
    return boto3.client("kms", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id=access, aws_secret_access_key=secret)


def test_the_console_is_served_with_a_strict_policy(server):
    with urllib.request.urlopen(server.url + "/console/", timeout=10) as answer:
        assert answer.status == 200
        policy = answer.headers["Content-Security-Policy"]
        html = answer.read().decode()
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy
    assert "<script>" not in html and "style=" not in html, "no inline code"


def test_seed_004_walkthrough_in_the_browser(server, browser):
    console = Console(browser, server, "seed-004")
    page = console.page
    root = kms_as(server, BOOTSTRAP_ACCESS_KEY_ID, BOOTSTRAP_SECRET_ACCESS_KEY)
    iam = boto3.client("iam", endpoint_url=server.url, region_name="us-east-1",
                       aws_access_key_id=BOOTSTRAP_ACCESS_KEY_ID, aws_secret_access_key=BOOTSTRAP_SECRET_ACCESS_KEY)

    # Sign in as the account root.
    page.goto(server.url + "/console/")
    console.snap("sign-in")
    assert console.sign_in(BOOTSTRAP_ACCESS_KEY_ID, BOOTSTRAP_SECRET_ACCESS_KEY).endswith(":root")

    # Create MyKeyManager and MyKeyUser, each with an access key (shown once).
    console.nav("IAM users")
    keys = {}
    for name in ("MyKeyManager", "MyKeyUser"):
        page.get_by_label("User name").fill(name)
        page.get_by_role("button", name="Create user").click()
        page.get_by_test_id("create-user-status").filter(has_text=name).wait_for()
        page.get_by_role("button", name=f"Create access key for {name}").click()
        page.get_by_test_id("new-access-key").wait_for()
        keys[name] = (page.get_by_test_id("new-access-key-id").input_value(),
                      page.get_by_test_id("new-secret-access-key").input_value())
        page.get_by_test_id("copy-secret-access-key").click()
        assert page.evaluate("navigator.clipboard.readText()") == keys[name][1]
        if name == "MyKeyUser":
            console.snap("new-access-key")
        page.get_by_role("button", name="Done").click()
        assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]] == [keys[name][0]]
    console.snap("iam-users")

    # Create the key: alias, tag, MyKeyManager as administrator, MyKeyUser as user.
    console.nav("Keys")
    page.get_by_test_id("keys-count").wait_for()
    page.get_by_role("link", name="Create key").click()
    page.get_by_label("Symmetric", exact=True).check()
    page.get_by_label("Encrypt and decrypt").check()
    console.snap("create-key-type")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Alias").fill("MyKey")
    page.get_by_label("Description").fill("Seed 004's key")
    page.get_by_role("button", name="Add tag").click()
    page.get_by_label("Tag key").fill("Owner")
    page.get_by_label("Tag value").fill("MyKeyUser")
    console.snap("create-key-labels")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("group", name="Key administrators").get_by_label("MyKeyManager", exact=True).check()
    console.snap("create-key-administrators")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("group", name="Key users").get_by_label("MyKeyUser", exact=True).check()
    page.get_by_role("button", name="Next").click()
    console.snap("create-key-review")
    page.get_by_role("button", name="Create key").click()
    page.get_by_test_id("key-id").wait_for()
    key_id = page.get_by_test_id("key-id").text_content().strip()
    page.get_by_test_id("key-policy").wait_for()
    console.snap("key-detail")
    meta = root.describe_key(KeyId="alias/MyKey")["KeyMetadata"]
    assert meta["KeyId"] == key_id and meta["Description"] == "Seed 004's key" and meta["KeyState"] == "Enabled"
    assert root.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "Owner", "TagValue": "MyKeyUser"}]
    policy = json.loads(root.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    principals = {s["Sid"]: s["Principal"]["AWS"] for s in policy["Statement"]}
    assert principals["Allow access for Key Administrators"] in ("arn:aws:iam::000000000000:user/MyKeyManager",
                                                                 ["arn:aws:iam::000000000000:user/MyKeyManager"])
    assert principals["Allow use of the key"] in ("arn:aws:iam::000000000000:user/MyKeyUser",
                                                  ["arn:aws:iam::000000000000:user/MyKeyUser"])
    console.nav("Keys")
    page.get_by_test_id("key-row").first.wait_for()
    console.snap("keys")
    console.sign_out()

    # As MyKeyUser: encrypt then decrypt text in the playground.
    assert console.sign_in(*keys["MyKeyUser"]).endswith(":user/MyKeyUser")
    console.nav("Playground")
    page.get_by_label("Key ID, ARN or alias").fill("alias/MyKey")
    page.get_by_role("button", name="Add context pair").click()
    page.get_by_label("Context key").fill("purpose")
    page.get_by_label("Context value").fill("seed004")
    page.get_by_label("Plaintext", exact=True).fill("Some text")
    page.get_by_role("button", name="Encrypt").click()
    page.get_by_test_id("encrypt-status").wait_for()
    ciphertext = page.get_by_test_id("ciphertext").input_value()
    page.get_by_role("button", name="Decrypt").click()
    page.get_by_test_id("decrypted").wait_for()
    assert page.get_by_test_id("decrypted").input_value() == "Some text"
    console.snap("playground")
    # The page's ciphertext is a real one: boto3 decrypts it as the user.
    import base64

    as_user = kms_as(server, *keys["MyKeyUser"])
    plain = as_user.decrypt(CiphertextBlob=base64.b64decode(ciphertext), EncryptionContext={"purpose": "seed004"})
    assert plain["Plaintext"] == b"Some text" and plain["KeyId"] == meta["Arn"]

    # As MyKeyUser, scheduling the key's deletion is refused with AWS's message.
    page.goto(server.url + "/console/#/keys/" + key_id)
    page.get_by_test_id("key-id").wait_for()
    page.get_by_label("Waiting period (days)").fill("7")
    page.get_by_role("button", name="Schedule deletion").click()
    page.get_by_test_id("key-action-error").wait_for()
    refusal = page.get_by_test_id("key-action-error").text_content()
    assert "AccessDeniedException" in refusal, refusal
    assert "user/MyKeyUser is not authorized to perform: kms:ScheduleKeyDeletion" in refusal, refusal
    console.snap("schedule-deletion-denied")
    assert root.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    console.sign_out()

    # As MyKeyManager, it is scheduled.
    assert console.sign_in(*keys["MyKeyManager"]).endswith(":user/MyKeyManager")
    page.goto(server.url + "/console/#/keys/" + key_id)
    page.get_by_test_id("key-id").wait_for()
    page.get_by_label("Waiting period (days)").fill("7")
    page.get_by_role("button", name="Schedule deletion").click()
    page.get_by_test_id("key-action-status").wait_for()
    page.get_by_test_id("key-state").filter(has_text="PendingDeletion").wait_for()
    console.snap("deletion-scheduled")
    meta = root.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and "DeletionDate" in meta
    console.sign_out()
    assert console.problems == [], console.problems
    console.context.close()
