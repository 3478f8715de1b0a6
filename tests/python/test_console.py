"""The web console (`/console/`) in a real headless browser: seed 004's
walkthrough end to end, then each screen on its own (the key policy and its
administrators and users, rotation, grants, the playground's other
operations, IAM groups, roles and inline policies, the audit and a key's
history), driven by Playwright in Debian's chromium (which `.ci/run`
installs; without it these tests are skipped, and say so). Each step checks
the server's state through boto3 as well as the page, refusals are compared
with what boto3 gets from the server, and a screenshot of each screen, at
1280 px and at phone width, is saved under target/test-output/console/.

The console is a client of the API like any other: every call is signed in
the page, so what a user may do is what the server's policies allow them,
and the server's own error messages are what the page shows."""

from __future__ import annotations

import base64
import json
import re
import shutil
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from playwright.sync_api import expect
from botocore.config import Config
from botocore.exceptions import ClientError

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


# The visible form controls and buttons that have no accessible name (no
# label, aria-label, aria-labelledby, title or text).
UNNAMED_CONTROLS = """
[...document.querySelectorAll('input, select, textarea, button, a[href]')]
  .filter(e => e.type !== 'hidden' && e.getClientRects().length > 0)
  .filter(e => !(e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || e.title
                 || (e.labels && e.labels.length) || (e.textContent || '').trim()))
  .map(e => e.outerHTML.slice(0, 120))
"""


class Console:
    """One browser page on the console, with what the walkthrough needs."""

    def __init__(self, browser, server, name: str, color_scheme: str = "light"):
        self.server = server
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=color_scheme)
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("console", lambda m: self.problems.append(m.text) if "Content Security Policy" in m.text else None)
        self.shots = SHOTS / name
        self.shots.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def snap(self, name: str) -> None:
        """A screenshot at 1280 px and at 375 px; no sideways scrolling on a
        phone, and no control without an accessible name."""
        unnamed = self.page.evaluate(UNNAMED_CONTROLS)
        assert unnamed == [], f"{name}: controls without a label: {unnamed}"
        self.count += 1
        self.page.screenshot(path=str(self.shots / f"{self.count:02}-{name}-1280.png"), full_page=True)
        self.page.set_viewport_size({"width": 375, "height": 800})
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{name}: {width} px wide at 375 px"
        self.page.screenshot(path=str(self.shots / f"{self.count:02}-{name}-375.png"), full_page=True)
        self.page.set_viewport_size({"width": 1280, "height": 900})

    def nav(self, link: str) -> None:
        self.page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()

    def sign_in(self, access: str, secret: str, at: str = "") -> str:
        """Signs in on the screen `at` (`#/audit`); the keys list by default."""
        page = self.page
        page.goto(self.server.url + "/console/" + at)
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


def root(server, service: str, **kwargs):
    """A boto3 client of the account root; `validate=False` lets bad parameters reach the server."""
    config = Config(parameter_validation=kwargs.pop("validate", True))
    return boto3.client(service, endpoint_url=server.url, region_name="us-east-1", config=config,
                        aws_access_key_id=BOOTSTRAP_ACCESS_KEY_ID, aws_secret_access_key=BOOTSTRAP_SECRET_ACCESS_KEY)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def refusal(call, **kwargs) -> str:
    """What the server answers `call(**kwargs)`, as the console shows it ("Code: message")."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    error = e.value.response["Error"]
    # Some errors carry no message (KMSInvalidSignatureException): the code alone.
    return f"{error['Code']}: {error['Message']}" if error.get("Message") else error["Code"]


def signed_in_as_root(browser, server, name: str, at: str, color_scheme: str = "light") -> Console:
    """A new page signed in as the account root, on the screen `at`."""
    console = Console(browser, server, name, color_scheme)
    assert console.sign_in(BOOTSTRAP_ACCESS_KEY_ID, BOOTSTRAP_SECRET_ACCESS_KEY, at).endswith(":root")
    return console


def done(console: Console) -> None:
    console.sign_out()
    assert console.problems == [], console.problems
    console.context.close()


# Each visible element's own text: its color and the first opaque
# background behind it (itself or an ancestor), as [r, g, b] and the text.
TEXT_COLORS = """
(() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const out = [];
  for (const e of document.querySelectorAll('body *')) {
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || e.getClientRects().length === 0) continue;
    const style = getComputedStyle(e);
    if (style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
    let back = null;
    for (let a = e; a && !back; a = a.parentElement) {
      const c = rgb(getComputedStyle(a).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) back = c.slice(0, 3);
    }
    out.push({ text: e.textContent.trim().slice(0, 40), color: rgb(style.color).slice(0, 3),
               back: back || rgb(getComputedStyle(document.documentElement).backgroundColor).slice(0, 3) });
  }
  return out;
})()
"""


def luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_text_is_readable_in_light_and_dark_mode(server, browser, scheme):
    """WCAG AA's 4.5:1 for every visible text on the sign-in page, the keys
    list, a key's page and the wizard, in the scheme the browser asks for
    (prefers-color-scheme)."""
    kms = root(server, "kms")
    key = kms.create_key(Description="contrast")["KeyMetadata"]["KeyId"]
    console = Console(browser, server, f"contrast-{scheme}", scheme)
    page = console.page
    screens = []
    page.goto(server.url + "/console/")
    page.get_by_label("Access key ID").wait_for()
    screens.append(("sign-in", page.evaluate(TEXT_COLORS)))
    console.sign_in(BOOTSTRAP_ACCESS_KEY_ID, BOOTSTRAP_SECRET_ACCESS_KEY)
    page.get_by_test_id("keys-table").locator(f'[data-key-id="{key}"]').wait_for()
    screens.append(("keys", page.evaluate(TEXT_COLORS)))
    page.goto(server.url + f"/console/#/keys/{key}")
    page.get_by_text("contrast", exact=True).first.wait_for()
    screens.append(("key", page.evaluate(TEXT_COLORS)))
    console.snap(f"key-{scheme}")
    page.goto(server.url + "/console/#/keys/create")
    page.get_by_role("heading", level=1).wait_for()
    screens.append(("wizard", page.evaluate(TEXT_COLORS)))
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    back = [float(x) for x in background[background.index("(") + 1:-1].split(",")[:3]]
    assert (luminance(back) < 0.1) == (scheme == "dark"), f"{scheme}: the page's background is {background}"
    poor = [(name, t["text"], round(contrast(t["color"], t["back"]), 2))
            for name, texts in screens for t in texts if contrast(t["color"], t["back"]) < 4.5]
    assert all(texts for _, texts in screens)
    assert poor == [], f"{scheme}: text below 4.5:1: {poor}"
    done(console)


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
    page.get_by_label("Key ID, ARN or alias", exact=True).fill("alias/MyKey")
    page.get_by_role("button", name="Add context pair").click()
    page.get_by_label("Context key").fill("purpose")
    page.get_by_label("Context value").fill("seed004")
    page.get_by_label("Plaintext", exact=True).fill("Some text")
    page.get_by_role("button", name="Encrypt", exact=True).click()
    page.get_by_test_id("encrypt-status").wait_for()
    ciphertext = page.get_by_test_id("ciphertext").input_value()
    page.get_by_role("button", name="Decrypt", exact=True).click()
    page.get_by_test_id("decrypted").wait_for()
    assert page.get_by_test_id("decrypted").input_value() == "Some text"
    console.snap("playground")
    # The page's ciphertext is a real one: boto3 decrypts it as the user.
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


def test_key_policy_editor_and_key_administrators_and_users(server, browser):
    kms, iam = root(server, "kms"), root(server, "iam")
    admin, user = unique("PolicyAdmin"), unique("PolicyUser")
    admin_arn = iam.create_user(UserName=admin)["User"]["Arn"]
    user_arn = iam.create_user(UserName=user)["User"]["Arn"]
    key_id = kms.create_key(Description="the key policy editor")["KeyMetadata"]["KeyId"]

    def statements():
        policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        return {s.get("Sid"): s for s in policy["Statement"]}

    console = signed_in_as_root(browser, server, "key-policy", f"#/keys/{key_id}")
    page = console.page
    admins, users = page.get_by_test_id("key-administrators"), page.get_by_test_id("key-users")
    admins.get_by_test_id("key-administrators-none").wait_for()
    users.get_by_test_id("key-users-none").wait_for()

    # Adding an administrator and a user writes their statements into the policy.
    admins.get_by_label("Add key administrator (ARN)").fill(admin_arn)
    admins.get_by_role("button", name="Add key administrator").click()
    admins.locator(f'[data-arn="{admin_arn}"]').wait_for()
    users.get_by_label("Add key user (ARN)").fill(user_arn)
    users.get_by_role("button", name="Add key user").click()
    users.locator(f'[data-arn="{user_arn}"]').wait_for()
    page.get_by_test_id("key-roles-status").filter(has_text=user_arn).wait_for()
    now = statements()
    assert now["Allow access for Key Administrators"]["Principal"] == {"AWS": admin_arn}
    assert "kms:ScheduleKeyDeletion" in now["Allow access for Key Administrators"]["Action"]
    assert now["Allow use of the key"]["Principal"] == {"AWS": user_arn}
    assert "kms:Decrypt" in now["Allow use of the key"]["Action"]
    assert now["Allow attachment of persistent resources"]["Principal"] == {"AWS": user_arn}
    assert user_arn in page.get_by_test_id("key-policy").text_content()
    console.snap("key-administrators-and-users")

    # Removing the only administrator removes the statement.
    admins.get_by_role("button", name=f"Remove {admin} from the key administrators").click()
    admins.get_by_test_id("key-administrators-none").wait_for()
    assert "Allow access for Key Administrators" not in statements()
    assert "Allow use of the key" in statements()

    # The JSON editor: the server's refusal, verbatim, and nothing saved.
    page.get_by_role("button", name="Edit policy").click()
    editor = page.get_by_label("Key policy (JSON)")
    bad = json.dumps({"Version": "2012-10-17",
                      "Statement": [{"Sid": "NoPrincipal", "Effect": "Allow", "Action": "kms:*", "Resource": "*"}]})
    editor.fill(bad)
    page.get_by_role("button", name="Save policy").click()
    shown = page.get_by_test_id("key-policy-save-error")
    shown.wait_for()
    expected = refusal(kms.put_key_policy, KeyId=key_id, PolicyName="default", Policy=bad)
    assert expected.startswith("MalformedPolicyDocumentException: ") and shown.text_content() == expected
    editor.fill("{not json")
    page.get_by_role("button", name="Save policy").click()
    shown.filter(has_text="not valid JSON").wait_for()
    assert shown.text_content() == refusal(kms.put_key_policy, KeyId=key_id, PolicyName="default", Policy="{not json")
    console.snap("key-policy-refused")
    assert "NoPrincipal" not in statements()

    # A valid document is saved, and the view is rebuilt from it.
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    policy["Statement"].append({"Sid": "Let the administrator describe", "Effect": "Allow",
                                "Principal": {"AWS": admin_arn}, "Action": "kms:DescribeKey", "Resource": "*"})
    editor.fill(json.dumps(policy, indent=2))
    page.get_by_role("button", name="Save policy").click()
    page.get_by_test_id("key-policy-status").wait_for()
    page.get_by_test_id("key-policy").filter(has_text="Let the administrator describe").wait_for()
    assert statements()["Let the administrator describe"]["Principal"] == {"AWS": admin_arn}
    users.locator(f'[data-arn="{user_arn}"]').wait_for()
    console.snap("key-policy")
    done(console)


def test_key_rotation_on_the_key_page(server, browser):
    kms = root(server, "kms")
    key_id = kms.create_key(Description="rotation")["KeyMetadata"]["KeyId"]
    console = signed_in_as_root(browser, server, "key-rotation", f"#/keys/{key_id}")
    page = console.page
    panel = page.get_by_test_id("rotation-panel")
    panel.get_by_test_id("rotation-enabled-status").filter(has_text="Disabled").wait_for()
    panel.get_by_test_id("rotation-history-empty").wait_for()

    # Out of range: the server's words.
    panel.get_by_label("Automatically rotate this KMS key").check()
    panel.get_by_label("Rotation period (days)").fill("89")
    panel.get_by_role("button", name="Save rotation").click()
    shown = panel.get_by_test_id("rotation-save-error")
    shown.wait_for()
    unchecked = root(server, "kms", validate=False)
    assert shown.text_content() == refusal(unchecked.enable_key_rotation, KeyId=key_id, RotationPeriodInDays=89)
    assert "ValidationException" in shown.text_content()
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False

    panel.get_by_label("Rotation period (days)").fill("180")
    panel.get_by_role("button", name="Save rotation").click()
    panel.get_by_test_id("rotation-period-status").filter(has_text="180 days").wait_for()
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 180

    # Rotate now, and the history.
    panel.get_by_role("button", name="Rotate now").click()
    panel.get_by_test_id("rotate-now-status").wait_for()
    panel.get_by_test_id("rotation-row").first.wait_for()
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
    assert panel.get_by_test_id("rotation-row").count() == 1
    assert "ON_DEMAND" in panel.get_by_test_id("rotation-row").text_content()
    console.snap("rotation")

    panel.get_by_label("Automatically rotate this KMS key").uncheck()
    panel.get_by_role("button", name="Save rotation").click()
    panel.get_by_test_id("rotation-enabled-status").filter(has_text="Disabled").wait_for()
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    done(console)


def test_grants_on_the_key_page(server, browser):
    kms, iam = root(server, "kms"), root(server, "iam")
    grantee = unique("Grantee")
    grantee_arn = iam.create_user(UserName=grantee)["User"]["Arn"]
    key_id = kms.create_key(Description="grants")["KeyMetadata"]["KeyId"]
    console = signed_in_as_root(browser, server, "key-grants", f"#/keys/{key_id}")
    page = console.page
    panel = page.get_by_test_id("grants-panel")
    panel.get_by_test_id("grants-empty").wait_for()

    # A principal that does not exist: the server's refusal.
    nobody = f"arn:aws:iam::000000000000:user/{unique('Nobody')}"
    panel.get_by_label("Grantee principal (ARN)").fill(nobody)
    panel.get_by_label("Encrypt", exact=True).check()
    panel.get_by_role("button", name="Create grant").click()
    shown = panel.get_by_test_id("create-grant-error")
    shown.wait_for()
    assert shown.text_content() == refusal(kms.create_grant, KeyId=key_id, GranteePrincipal=nobody, Operations=["Encrypt"])

    panel.get_by_label("Grantee principal (ARN)").fill(grantee_arn)
    panel.get_by_label("Decrypt", exact=True).check()
    panel.get_by_label("Grant name (optional)").fill("console-grant")
    panel.get_by_label("Encryption context constraint").select_option("EncryptionContextSubset")
    panel.get_by_label("Constraint key").fill("purpose")
    panel.get_by_label("Constraint value").fill("console")
    console.snap("create-grant")
    panel.get_by_role("button", name="Create grant").click()
    panel.get_by_test_id("create-grant-status").wait_for()
    panel.get_by_test_id("grant-row").wait_for()
    [grant] = kms.list_grants(KeyId=key_id)["Grants"]
    assert grant["GranteePrincipal"] == grantee_arn and grant["Name"] == "console-grant"
    assert sorted(grant["Operations"]) == ["Decrypt", "Encrypt"]
    assert grant["Constraints"] == {"EncryptionContextSubset": {"purpose": "console"}}
    row = panel.get_by_test_id("grant-row")
    assert row.get_attribute("data-grant-id") == grant["GrantId"]
    assert grantee_arn in row.text_content() and "purpose=console" in row.text_content()
    assert panel.get_by_test_id("grant-token").input_value()
    console.snap("grants")

    panel.get_by_role("button", name="Revoke grant console-grant").click()
    panel.get_by_test_id("grants-empty").wait_for()
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    done(console)


def test_playground_reencrypt_data_key_sign_and_mac(server, browser):
    kms = root(server, "kms")
    source = kms.create_key(Description="source")["KeyMetadata"]
    destination = kms.create_key(Description="destination")["KeyMetadata"]
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    context = {"purpose": "playground"}
    console = signed_in_as_root(browser, server, "playground-more", f"#/playground?key={source['KeyId']}")
    page = console.page
    page.get_by_test_id("playground-key-info").filter(has_text="SYMMETRIC_DEFAULT").wait_for()
    page.get_by_role("button", name="Add context pair").click()
    page.get_by_label("Context key", exact=True).fill("purpose")
    page.get_by_label("Context value", exact=True).fill("playground")
    page.get_by_label("Plaintext", exact=True).fill("Move me")
    page.get_by_role("button", name="Encrypt", exact=True).click()
    page.get_by_test_id("encrypt-status").wait_for()

    # Re-encrypt under the destination key: boto3 decrypts it there.
    page.get_by_label("Destination key (ID, ARN or alias)").fill(destination["KeyId"])
    page.get_by_role("button", name="Re-encrypt", exact=True).click()
    page.get_by_test_id("reencrypt-status").wait_for()
    moved = base64.b64decode(page.get_by_test_id("reencrypted").input_value())
    plain = kms.decrypt(CiphertextBlob=moved, EncryptionContext=context)
    assert plain["Plaintext"] == b"Move me" and plain["KeyId"] == destination["Arn"]
    page.get_by_role("button", name="Decrypt this instead").click()
    assert page.get_by_label("Key ID, ARN or alias", exact=True).input_value() == destination["KeyId"]
    page.get_by_role("button", name="Decrypt", exact=True).click()
    page.get_by_test_id("decrypted").wait_for()
    assert page.get_by_test_id("decrypted").input_value() == "Move me"

    # A data key: its plaintext is what boto3 gets from its ciphertext.
    page.get_by_role("button", name="Generate data key").click()
    page.get_by_test_id("datakey-status").wait_for()
    data_key = base64.b64decode(page.get_by_test_id("datakey-plaintext").input_value())
    wrapped = base64.b64decode(page.get_by_test_id("datakey-ciphertext").input_value())
    unwrapped = kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=context)
    assert len(data_key) == 32 and unwrapped["Plaintext"] == data_key and unwrapped["KeyId"] == destination["Arn"]
    console.snap("playground-encryption")

    # Sign and verify with the key's own algorithm.
    page.get_by_label("Key ID, ARN or alias", exact=True).fill(signer["KeyId"])
    page.get_by_test_id("playground-key-info").filter(has_text="SIGN_VERIFY").wait_for()
    assert page.get_by_test_id("plaintext").count() == 0, "no encryption with a signing key"
    options = page.get_by_label("Signing algorithm").locator("option").all_text_contents()
    assert options == signer["SigningAlgorithms"] == ["ECDSA_SHA_256"]
    page.get_by_label("Message to sign").fill("Sign me")
    page.get_by_role("button", name="Sign", exact=True).click()
    page.get_by_test_id("sign-status").wait_for()
    signature = base64.b64decode(page.get_by_test_id("signature").input_value())
    assert kms.verify(KeyId=signer["KeyId"], Message=b"Sign me", Signature=signature,
                      SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"] is True
    page.get_by_role("button", name="Verify", exact=True).click()
    page.get_by_test_id("verify-status").filter(has_text="The signature is valid").wait_for()
    page.get_by_label("Message to sign").fill("Sign me!")
    page.get_by_role("button", name="Verify", exact=True).click()
    shown = page.get_by_test_id("verify-error")
    shown.wait_for()
    assert shown.text_content() == refusal(kms.verify, KeyId=signer["KeyId"], Message=b"Sign me!", Signature=signature,
                                           SigningAlgorithm="ECDSA_SHA_256")
    assert shown.text_content().startswith("KMSInvalidSignatureException")
    console.snap("playground-sign")

    # Generate and verify a MAC.
    page.get_by_label("Key ID, ARN or alias", exact=True).fill(hmac["KeyId"])
    page.get_by_test_id("playground-key-info").filter(has_text="GENERATE_VERIFY_MAC").wait_for()
    assert page.get_by_label("MAC algorithm").input_value() == "HMAC_SHA_256"
    page.get_by_label("Message to authenticate").fill("MAC me")
    page.get_by_role("button", name="Generate MAC").click()
    page.get_by_test_id("generate-mac-status").wait_for()
    mac = base64.b64decode(page.get_by_test_id("mac").input_value())
    assert kms.verify_mac(KeyId=hmac["KeyId"], Message=b"MAC me", Mac=mac, MacAlgorithm="HMAC_SHA_256")["MacValid"]
    page.get_by_role("button", name="Verify MAC").click()
    page.get_by_test_id("verify-mac-status").filter(has_text="The MAC is valid").wait_for()
    page.get_by_label("Message to authenticate").fill("MAC me!")
    page.get_by_role("button", name="Verify MAC").click()
    shown = page.get_by_test_id("verify-mac-error")
    shown.wait_for()
    assert shown.text_content() == refusal(kms.verify_mac, KeyId=hmac["KeyId"], Message=b"MAC me!", Mac=mac,
                                           MacAlgorithm="HMAC_SHA_256")
    console.snap("playground-mac")
    done(console)


def test_iam_groups_members_and_inline_policy(server, browser):
    iam = root(server, "iam")
    group, member = unique("Group"), unique("Member")
    iam.create_user(UserName=member)
    console = signed_in_as_root(browser, server, "iam-groups", "#/iam/groups")
    page = console.page
    page.get_by_label("Group name", exact=True).fill(group)
    page.get_by_role("button", name="Create group").click()
    page.get_by_test_id("create-group-status").wait_for()
    assert iam.get_group(GroupName=group)["Group"]["GroupName"] == group
    page.get_by_test_id("groups-table").locator(f'[data-name="{group}"]').wait_for()
    console.snap("iam-groups")
    page.get_by_test_id("groups-table").get_by_role("link", name=group).click()
    page.get_by_test_id("group-arn").wait_for()

    page.get_by_label("User name").fill(member)
    page.get_by_role("button", name="Add user to group").click()
    page.locator(f'[data-testid="group-user"][data-user-name="{member}"]').wait_for()
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [member]

    # An inline policy: refused as the server words it, then saved.
    policies = page.get_by_test_id("inline-policies")
    bad = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]})
    policies.get_by_label("Policy name").fill("UseKeys")
    policies.get_by_label("Policy document (JSON)").fill(bad)
    policies.get_by_role("button", name="Save policy").click()
    shown = policies.get_by_test_id("inline-policy-error")
    shown.wait_for()
    expected = refusal(iam.put_group_policy, GroupName=group, PolicyName="UseKeys", PolicyDocument=bad)
    assert expected.startswith("MalformedPolicyDocument: ") and shown.text_content() == expected
    good = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}
    policies.get_by_label("Policy document (JSON)").fill(json.dumps(good))
    policies.get_by_role("button", name="Save policy").click()
    policies.locator('[data-testid="inline-policy"][data-policy-name="UseKeys"]').wait_for()
    assert iam.get_group_policy(GroupName=group, PolicyName="UseKeys")["PolicyDocument"] == good
    console.snap("iam-group")

    page.get_by_role("button", name=f"Remove {member} from the group").click()
    page.get_by_test_id("group-users-empty").wait_for()
    assert iam.get_group(GroupName=group)["Users"] == []
    done(console)


def test_iam_roles_with_trust_policy_and_user_inline_policies(server, browser):
    iam = root(server, "iam")
    role, holder = unique("Role"), unique("PolicyHolder")
    iam.create_user(UserName=holder)
    member_of = sorted(unique(f"HolderGroup{i}") for i in range(2))
    for group in member_of:
        iam.create_group(GroupName=group)
        iam.add_user_to_group(GroupName=group, UserName=holder)
    console = signed_in_as_root(browser, server, "iam-roles", "#/iam/roles")
    page = console.page

    # A trust policy the server refuses: its message, and no role.
    bad_trust = json.dumps({"Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]})
    page.get_by_label("Role name", exact=True).fill(role)
    default_trust = page.get_by_label("Trust policy (JSON)").input_value()
    page.get_by_label("Trust policy (JSON)").fill(bad_trust)
    page.get_by_role("button", name="Create role").click()
    shown = page.get_by_test_id("create-role-error")
    shown.wait_for()
    assert shown.text_content() == refusal(iam.create_role, RoleName=role, AssumeRolePolicyDocument=bad_trust)
    assert refusal(iam.get_role, RoleName=role).startswith("NoSuchEntity")

    # The default trust policy: the account's own principals.
    page.get_by_label("Trust policy (JSON)").fill(default_trust)
    page.get_by_label("Description (optional)").fill("made in the console")
    page.get_by_role("button", name="Create role").click()
    page.get_by_test_id("create-role-status").wait_for()
    made = iam.get_role(RoleName=role)["Role"]
    assert made["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::000000000000:root"}
    assert made["Description"] == "made in the console"
    page.get_by_test_id("roles-table").locator(f'[data-name="{role}"]').wait_for()
    console.snap("iam-roles")

    # Opened by name (GetRole): the trust policy and an inline policy.
    page.get_by_label("Role name to open").fill(role)
    page.get_by_role("button", name="Open role").click()
    page.get_by_test_id("role-arn").wait_for()
    described = iam.get_role(RoleName=role)["Role"]
    assert page.get_by_test_id("role-arn").text_content() == described["Arn"]
    assert json.loads(page.get_by_test_id("role-trust-policy").text_content()) == described["AssumeRolePolicyDocument"]
    policies = page.get_by_test_id("inline-policies")
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}
    policies.get_by_label("Policy name").fill("Decrypt")
    policies.get_by_label("Policy document (JSON)").fill(json.dumps(doc))
    policies.get_by_role("button", name="Save policy").click()
    policies.locator('[data-testid="inline-policy"][data-policy-name="Decrypt"]').wait_for()
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["Decrypt"]
    assert iam.get_role_policy(RoleName=role, PolicyName="Decrypt")["PolicyDocument"] == doc
    console.snap("iam-role")

    # A user's groups (ListGroupsForUser), each a link to its page.
    console.nav("IAM users")
    page.get_by_test_id("users-table").get_by_role("link", name=holder, exact=True).click()
    page.get_by_test_id("user-arn").wait_for()
    listed = page.get_by_test_id("user-groups").get_by_test_id("user-group")
    expect(listed).to_have_text(member_of)
    assert sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=holder)["Groups"]) == member_of
    assert listed.first.get_attribute("href") == f"#/iam/groups/{member_of[0]}"

    # A user's inline policies: refused, saved, edited, deleted.
    policies = page.get_by_test_id("inline-policies")
    policies.get_by_test_id("inline-policies-empty").wait_for()
    policies.get_by_label("Policy name").fill("Keys")
    policies.get_by_label("Policy document (JSON)").fill("{not json")
    policies.get_by_role("button", name="Save policy").click()
    shown = policies.get_by_test_id("inline-policy-error")
    shown.wait_for()
    assert shown.text_content() == refusal(iam.put_user_policy, UserName=holder, PolicyName="Keys",
                                           PolicyDocument="{not json")
    policies.get_by_label("Policy document (JSON)").fill(json.dumps(doc))
    policies.get_by_role("button", name="Save policy").click()
    policies.locator('[data-testid="inline-policy"][data-policy-name="Keys"]').wait_for()
    assert iam.get_user_policy(UserName=holder, PolicyName="Keys")["PolicyDocument"] == doc
    policies.get_by_role("button", name="Edit policy Keys").click()
    assert policies.get_by_label("Policy name").input_value() == "Keys"
    edited = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}
    policies.get_by_label("Policy document (JSON)").fill(json.dumps(edited))
    policies.get_by_role("button", name="Save policy").click()
    policies.get_by_test_id("inline-policy-document-view").filter(has_text="kms:Encrypt").wait_for()
    assert iam.get_user_policy(UserName=holder, PolicyName="Keys")["PolicyDocument"] == edited
    console.snap("iam-user")
    policies.get_by_role("button", name="Delete policy Keys").click()
    policies.get_by_test_id("inline-policies-empty").wait_for()
    assert iam.list_user_policies(UserName=holder)["PolicyNames"] == []
    done(console)


def test_audit_lookup_events_and_key_history(server, browser):
    kms, trail = root(server, "kms"), root(server, "cloudtrail")
    key = kms.create_key(Description="audited")["KeyMetadata"]
    for _ in range(12):
        kms.describe_key(KeyId=key["KeyId"])
    refused = refusal(root(server, "kms", validate=False).schedule_key_deletion, KeyId=key["KeyId"],
                      PendingWindowInDays=3)
    # Signed in on the audit screen: no other screen's requests about the key run meanwhile.
    console = signed_in_as_root(browser, server, "audit", "#/audit")
    page = console.page
    page.get_by_test_id("audit-summary").wait_for()

    # ResourceName = the key's ARN: the same events as boto3 gets, newest first.
    page.get_by_label("Lookup attribute").select_option("ResourceName")
    page.get_by_label("Attribute value").fill(key["Arn"])
    page.get_by_label("Events per page").select_option("50")
    page.get_by_role("button", name="Look up events").click()
    page.get_by_test_id("audit-summary").filter(has_text=key["Arn"]).wait_for()
    rows = page.get_by_test_id("audit-events").get_by_test_id("event-row")
    expected = trail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}],
                                   MaxResults=50)["Events"]
    assert [r.get_attribute("data-event-id") for r in rows.all()] == [e["EventId"] for e in expected]
    assert expected[-1]["EventName"] == "CreateKey"
    failed = page.get_by_test_id("audit-events").locator('[data-testid="event-row"][data-event-name="ScheduleKeyDeletion"]')
    assert failed.get_by_test_id("event-error-code").text_content() == refused.split(":")[0]
    failed.get_by_role("button", name="Show the record of ScheduleKeyDeletion").click()
    record = json.loads(page.get_by_test_id("event-json").text_content())
    assert record["eventName"] == "ScheduleKeyDeletion" and record["errorCode"] == refused.split(":")[0]
    console.snap("audit-by-key")

    # EventName, ten a page: the pages boto3 gets with NextToken.
    page.get_by_label("Lookup attribute").select_option("EventName")
    page.get_by_label("Attribute value").fill("DescribeKey")
    page.get_by_label("Events per page").select_option("10")
    page.get_by_role("button", name="Look up events").click()
    page.get_by_test_id("audit-summary").filter(has_text="Page 1: 10 events where EventName is DescribeKey").wait_for()
    by_name = [{"AttributeKey": "EventName", "AttributeValue": "DescribeKey"}]
    first = trail.lookup_events(LookupAttributes=by_name, MaxResults=10)
    second = trail.lookup_events(LookupAttributes=by_name, MaxResults=10, NextToken=first["NextToken"])
    ids = lambda: [r.get_attribute("data-event-id") for r in rows.all()]  # noqa: E731
    assert ids() == [e["EventId"] for e in first["Events"]]
    page.get_by_role("button", name="Next page").click()
    page.get_by_test_id("audit-summary").filter(has_text="Page 2:").wait_for()
    assert ids() == [e["EventId"] for e in second["Events"]]
    assert {r.get_attribute("data-event-name") for r in rows.all()} == {"DescribeKey"}
    page.get_by_role("button", name="Previous page").click()
    page.get_by_test_id("audit-summary").filter(has_text="Page 1:").wait_for()
    assert ids() == [e["EventId"] for e in first["Events"]]

    # Times (UTC): none in the future; a start after the end is the server's to refuse.
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    earlier = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("Start time (UTC)").fill(later)
    page.get_by_role("button", name="Look up events").click()
    page.get_by_test_id("audit-events-empty").wait_for()
    page.get_by_label("End time (UTC)").fill(earlier)
    page.get_by_role("button", name="Look up events").click()
    shown = page.get_by_test_id("audit-error")
    shown.wait_for()
    start = datetime.strptime(later, "%Y-%m-%dT%H:%M").replace(tzinfo=timezone.utc)
    end = datetime.strptime(earlier, "%Y-%m-%dT%H:%M").replace(tzinfo=timezone.utc)
    assert shown.text_content() == refusal(trail.lookup_events, StartTime=start, EndTime=end)
    console.snap("audit-refused")

    # The key's own history, on its page: events about this key only, back to its creation.
    page.goto(f"{server.url}/console/#/keys/{key['KeyId']}")
    history = page.get_by_test_id("key-history")
    history.get_by_test_id("event-row").first.wait_for()
    while history.locator('[data-event-name="CreateKey"]').count() == 0:
        before = history.get_by_test_id("event-row").count()
        history.get_by_role("button", name="Load more events").click()
        expect(history.get_by_test_id("event-row")).not_to_have_count(before)
    about_key = set()
    token = None
    while True:
        answer = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}], MaxResults=50,
            **({"NextToken": token} if token else {}))
        about_key |= {e["EventId"] for e in answer["Events"]}
        token = answer.get("NextToken")
        if not token:
            break
    shown_ids = {r.get_attribute("data-event-id") for r in history.get_by_test_id("event-row").all()}
    assert shown_ids <= about_key and len(shown_ids) >= 14
    console.snap("key-history")
    done(console)


def test_the_console_over_tls(browser):
    """With `--tls self-signed` the console is served and works over HTTPS:
    the page trusts the server's CA like any client would (here the browser
    context accepts the self-signed chain), WebCrypto signs, and the calls
    go to the same https origin the CSP allows."""
    from conftest import run_trent

    with run_trent(extra_args=("--tls", "self-signed")) as server:
        assert server.url.startswith("https://")
        kms = boto3.client("kms", endpoint_url=server.url, region_name="us-east-1", verify=str(server.ca_bundle),
                           aws_access_key_id=BOOTSTRAP_ACCESS_KEY_ID,
                           aws_secret_access_key=BOOTSTRAP_SECRET_ACCESS_KEY)
        key_id = kms.create_key(Description="over TLS")["KeyMetadata"]["KeyId"]
        context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(server.url + "/console/")
        assert page.evaluate("window.isSecureContext && location.protocol") == "https:"
        page.get_by_label("Access key ID").fill(BOOTSTRAP_ACCESS_KEY_ID)
        page.get_by_label("Secret access key").fill(BOOTSTRAP_SECRET_ACCESS_KEY)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_test_id("whoami").wait_for()
        page.get_by_test_id("key-row").filter(has_text=key_id).wait_for()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "tls-keys-1280.png"), full_page=True)
        assert problems == [], problems
        context.close()


def test_sign_in_and_moving_around_with_the_keyboard_alone(server, browser):
    """Every control is reachable with Tab and usable with the keyboard: sign
    in, then reach the main navigation and open a screen, without a click."""
    console = Console(browser, server, "keyboard")
    page = console.page
    page.goto(server.url + "/console/")

    def tab_to(label: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                "(() => { const e = document.activeElement; if (!e) return '';"
                " const byFor = e.id && document.querySelector(`label[for='${e.id}']`);"
                " return (e.getAttribute('aria-label') || (e.labels && e.labels[0] && e.labels[0].textContent)"
                " || (byFor && byFor.textContent) || e.textContent || '').trim(); })()")
            if focused.startswith(label):
                return
        raise AssertionError(f"Tab never reached {label!r}")

    tab_to("Access key ID")
    page.keyboard.type(BOOTSTRAP_ACCESS_KEY_ID)
    tab_to("Secret access key")
    page.keyboard.type(BOOTSTRAP_SECRET_ACCESS_KEY)
    page.keyboard.press("Enter")
    page.get_by_test_id("whoami").wait_for()
    tab_to("Playground")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/playground"))
    tab_to("Key ID, ARN or alias")
    console.snap("keyboard-playground")
    done(console)


def test_a_key_user_cannot_widen_its_own_access_from_the_console(server, browser):
    """The attacker's side of the key page: a user who may read the key and
    use it, and nothing more, tries to make itself a key administrator, to
    save a key policy giving it kms:*, and to grant itself the key; each is
    refused in the server's words (as boto3 with its keys is), and root
    sees the policy and the grants unchanged. A wrong secret signs nobody in."""
    kms, iam = root(server, "kms"), root(server, "iam")
    name = unique("Widener")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    reader = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
        "kms:Describe*", "kms:Get*", "kms:List*", "kms:Encrypt", "kms:Decrypt", "cloudtrail:LookupEvents"]}]}
    iam.put_user_policy(UserName=name, PolicyName="read-and-use", PolicyDocument=json.dumps(reader))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    as_user = kms_as(server, key["AccessKeyId"], key["SecretAccessKey"])
    key_id = kms.create_key(Description="not yours to widen")["KeyMetadata"]["KeyId"]
    policy_before = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]

    console = Console(browser, server, "key-user-refused")
    page = console.page
    assert console.sign_in(key["AccessKeyId"], key["SecretAccessKey"], f"#/keys/{key_id}").endswith(f":user/{name}")
    page.get_by_test_id("key-id").wait_for()

    admins = page.get_by_test_id("key-administrators")
    admins.get_by_label("Add key administrator (ARN)").fill(arn)
    admins.get_by_role("button", name="Add key administrator").click()
    shown = page.get_by_test_id("key-roles-error")
    shown.wait_for()
    assert shown.text_content().startswith("AccessDeniedException: ") and "kms:PutKeyPolicy" in shown.text_content()

    widened = json.loads(policy_before)
    widened["Statement"].append({"Sid": "Mine now", "Effect": "Allow", "Principal": {"AWS": arn},
                                 "Action": "kms:*", "Resource": "*"})
    page.get_by_role("button", name="Edit policy").click()
    page.get_by_label("Key policy (JSON)").fill(json.dumps(widened))
    page.get_by_role("button", name="Save policy").click()
    shown = page.get_by_test_id("key-policy-save-error")
    shown.wait_for()
    assert shown.text_content() == refusal(as_user.put_key_policy, KeyId=key_id, PolicyName="default",
                                           Policy=json.dumps(widened))
    assert "kms:PutKeyPolicy" in shown.text_content()

    panel = page.get_by_test_id("grants-panel")
    panel.get_by_label("Grantee principal (ARN)").fill(arn)
    panel.get_by_label("Decrypt", exact=True).check()
    panel.get_by_role("button", name="Create grant").click()
    shown = panel.get_by_test_id("create-grant-error")
    shown.wait_for()
    assert shown.text_content() == refusal(as_user.create_grant, KeyId=key_id, GranteePrincipal=arn,
                                           Operations=["Decrypt"])
    assert "kms:CreateGrant" in shown.text_content()
    console.snap("key-user-refused")

    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == policy_before
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    done(console)

    # A wrong secret: the server's refusal on the sign-in page, nothing kept.
    console = Console(browser, server, "wrong-secret")
    page = console.page
    page.goto(server.url + "/console/")
    page.get_by_label("Access key ID").fill(key["AccessKeyId"])
    secret = key["SecretAccessKey"]
    page.get_by_label("Secret access key").fill(secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    page.get_by_label("Region").fill("us-east-1")
    page.get_by_role("button", name="Sign in").click()
    shown = page.get_by_test_id("signin-error")
    shown.wait_for()
    assert shown.text_content().startswith("SignatureDoesNotMatch"), shown.text_content()
    assert page.get_by_test_id("whoami").count() == 0
    stored = page.evaluate("JSON.stringify([Object.keys(sessionStorage), Object.keys(localStorage)])")
    assert json.loads(stored) == [[], []]
    assert console.problems == [], console.problems
    console.context.close()


def test_sign_in_with_temporary_credentials(server, browser):
    """Temporary credentials (AssumeRole): the page signs with the session
    token, shows the assumed role, may do what the role's policy allows and
    shows the server's refusal for the rest."""
    iam = root(server, "iam")
    role = unique("ConsoleRole")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"AWS": "arn:aws:iam::000000000000:root"}}]}
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    allowed = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
        "kms:ListKeys", "kms:ListAliases", "kms:DescribeKey"]}]}
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=json.dumps(allowed))
    key_id = root(server, "kms").create_key(Description="seen by a role")["KeyMetadata"]["KeyId"]
    # Roles are assumed by users (never by the root): one allowed to.
    user = unique("Assumer")
    iam.create_user(UserName=user)
    may_assume = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                           "Resource": f"arn:aws:iam::000000000000:role/{role}"}]}
    iam.put_user_policy(UserName=user, PolicyName="assume", PolicyDocument=json.dumps(may_assume))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    sts = boto3.client("sts", endpoint_url=server.url, region_name="us-east-1",
                       aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::000000000000:role/{role}",
                                  RoleSessionName="console")["Credentials"]
    expected = boto3.client("sts", endpoint_url=server.url, region_name="us-east-1",
                            aws_access_key_id=credentials["AccessKeyId"],
                            aws_secret_access_key=credentials["SecretAccessKey"],
                            aws_session_token=credentials["SessionToken"]).get_caller_identity()["Arn"]

    console = Console(browser, server, "temporary-credentials")
    page = console.page
    page.goto(server.url + "/console/")
    page.get_by_label("Access key ID").fill(credentials["AccessKeyId"])
    page.get_by_label("Secret access key").fill(credentials["SecretAccessKey"])
    page.get_by_label("Session token").fill(credentials["SessionToken"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("whoami").wait_for()
    assert page.get_by_test_id("whoami").text_content().strip() == expected
    assert expected.endswith(f":assumed-role/{role}/console")
    page.get_by_test_id("key-row").filter(has_text=key_id).wait_for()
    console.snap("keys-as-a-role")
    # What the role may not do is refused, in the server's words.
    page.goto(server.url + "/console/#/keys/" + key_id)
    page.get_by_test_id("key-id").wait_for()
    page.get_by_role("button", name="Disable", exact=True).click()
    page.get_by_test_id("key-action-error").wait_for()
    shown = page.get_by_test_id("key-action-error").text_content()
    assert f"assumed-role/{role}/console is not authorized to perform: kms:DisableKey" in shown, shown
    assert root(server, "kms").describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    done(console)


def test_keys_list_filters_sorts_and_pages(server, browser):
    """The keys screen pages through ListKeys with its marker, filters what
    it loaded, and sorts by a column (its header says which way)."""
    kms = root(server, "kms")
    tag = unique("paged")
    made = [kms.create_key(Description=f"{tag}-{i:02}")["KeyMetadata"]["KeyId"] for i in range(12)]
    console = signed_in_as_root(browser, server, "keys-list", "#/keys")
    page = console.page
    page.get_by_label("Keys per page").select_option("10")
    page.get_by_test_id("keys-count").filter(has_text="more on the server").wait_for()
    assert page.get_by_test_id("key-row").count() == 10
    total = len([k for p in kms.get_paginator("list_keys").paginate() for k in p["Keys"]])
    # (No wait_for_function: its polling evaluates a string, which the
    # page's CSP forbids. Locator assertions run in Playwright's own world.)
    while page.get_by_test_id("load-more").count():
        before = page.get_by_test_id("keys-count").text_content()
        page.get_by_test_id("load-more").click()
        expect(page.get_by_test_id("keys-count")).not_to_have_text(before)
    page.get_by_test_id("keys-count").filter(has_text=f"of {total} loaded").wait_for()
    page.get_by_label("Filter keys").fill(tag)
    page.get_by_test_id("keys-count").filter(has_text=f"12 of {total}").wait_for()
    assert page.get_by_test_id("key-row").count() == 12
    page.get_by_test_id("sort-description").click()
    header = page.locator("th", has=page.get_by_test_id("sort-description"))
    assert header.get_attribute("aria-sort") == "ascending"
    first = page.get_by_test_id("key-row").first.text_content()
    assert f"{tag}-00" in first and made[0] in first
    page.get_by_test_id("sort-description").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert f"{tag}-11" in page.get_by_test_id("key-row").first.text_content()
    console.snap("filtered-and-sorted")
    done(console)
