"""URLs, headers and environment variables: ``${VAR}`` is named, never a secret written in the runbook."""

from __future__ import annotations

import re
import urllib.parse

from yaml.nodes import Node

from runbooks import grammar
from runbooks.loader.nodes import SECRET_HINT, NodeReader, join, quoted

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_NAME = re.compile(r"auth|token|key|secret|passw|cookie|session|credential|signature", re.I)
_AUTH_SCHEME = re.compile(r"\s*(?:bearer|basic|token|apikey|api-key|digest|negotiate)\b", re.I)
_ENV_REFERENCE = re.compile(r"\$\{[^}]*\}")


def _inline_secret(name: str, value: str) -> bool:
    """Whether a header or environment value holds a literal credential rather than ``${VAR}``."""
    literal = _ENV_REFERENCE.sub("", value)
    scheme = _AUTH_SCHEME.match(literal)
    if scheme is None and not _SECRET_NAME.search(name):
        return False
    if scheme is not None:
        literal = literal[scheme.end() :]
    # What is left besides references, scheme words and `name=` separators is a literal secret.
    return bool(re.sub(r"[A-Za-z0-9_.-]+=|[;,\s]", "", literal))


class CredentialsReader(NodeReader):
    """Reads URLs, headers and environment variable names, refusing inline credentials."""

    def url(self, node: Node, path: str) -> str:
        """A URL with ``${VAR:-default}`` expanded now; credentials in it are refused."""
        raw = self.text(node, path)
        if not self.expand_urls and "${" in raw:
            return raw  # checked, expanded, when the session that stored it began
        try:
            url = grammar.expand_env(raw)
        except ValueError as error:
            raise self.error(str(error), node, path) from None
        try:
            parts = urllib.parse.urlsplit(url)
            _ = parts.port  # raises on a port that is not a number in 0-65535
            has_password = parts.password is not None
            query_keys = [key for key, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=False)]
        except ValueError as error:
            raise self.error(f"invalid URL: {error}", node, path) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # The expanded URL is shown only when nothing in it could be secret.
            shown = f" {quoted(url)}" if url == raw else ""
            raise self.error(f"expected an http:// or https:// URL with a host{shown}", node, path)
        if has_password:
            raise self.error("the URL carries a password (user:pass@host)", node, path, SECRET_HINT)
        for key in query_keys:
            if _SECRET_NAME.search(key):
                raise self.error(
                    f"the URL carries a credential in its query parameter '{key}'", node, path, SECRET_HINT
                )
        return url

    def secret_free_values(self, node: Node, path: str, what: str, name_pattern: re.Pattern[str]) -> dict[str, str]:
        """Headers or environment: values kept unexpanded (``${VAR}`` is resolved at request time)."""
        result: dict[str, str] = {}
        for key, (key_node, value_node) in self.entries(node, path, what=f"a mapping of {what}").items():
            key_path = join(path, key)
            if not name_pattern.fullmatch(key):
                raise self.error(f"invalid {what} name {quoted(key)}", key_node, key_path)
            value = self.scalar(value_node, key_path, "text").value
            try:
                grammar.env_references(value)
            except ValueError as error:
                raise self.error(str(error), value_node, key_path) from None
            if _inline_secret(key, value):
                raise self.error(f"{what} '{key}' holds an inline credential", value_node, key_path, SECRET_HINT)
            result[key] = value
        return result

    def headers(self, node: Node, path: str) -> dict[str, str]:
        return self.secret_free_values(node, path, "header", re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"))

    def env_name(self, node: Node, path: str) -> str:
        return self.text_matching(
            node,
            path,
            ENV_NAME,
            "expected an environment variable name, got {}",
            "token_env names the variable that holds the token, e.g. token_env: PROM_TOKEN",
        )
