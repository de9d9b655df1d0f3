// Version.swift: the release version of smtorp.

/// The smtorp version string printed by `smtorp --version`.
public let smtorpVersion = "0.1.0"
