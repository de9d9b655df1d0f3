// VerbTable.swift — the one table of SMTP verbs: what each needs before it
// may run, and how it behaves in a pipelined group. The server session
// consults this table instead of hard-coding sequence checks (in the manner of
// OpenSMTPD's commands[] and Postfix's smtpd_cmd_table).
//
// Untrusted input: the verb of a command line, as sent by the peer (matched
// case-insensitively against the table; anything else is unknown).
// RFCs: RFC 5321 §4.1.1 (commands), §4.1.4 (order of commands), RFC 2920
// §3.1 (pipelining groups), RFC 3030 §2 (BDAT), RFC 6531 §3.3 (UTF-8
// paths), RFC 3207 §4 (STARTTLS) and RFC 4954 §4 (AUTH) on the submission
// listener (RFC 6409).

/// An SMTP command verb the server recognises.
public enum Verb: Equatable, Sendable, CaseIterable {
    /// EHLO (RFC 5321 §4.1.1.1).
    case extendedHello
    /// HELO (RFC 5321 §4.1.1.1).
    case hello
    /// MAIL (RFC 5321 §4.1.1.2).
    case mail
    /// RCPT (RFC 5321 §4.1.1.3).
    case recipient
    /// DATA (RFC 5321 §4.1.1.4).
    case data
    /// BDAT (RFC 3030 §2).
    case binaryData
    /// RSET (RFC 5321 §4.1.1.5).
    case reset
    /// NOOP (RFC 5321 §4.1.1.9).
    case noop
    /// QUIT (RFC 5321 §4.1.1.10).
    case quit
    /// VRFY (RFC 5321 §4.1.1.6).
    case verify
    /// HELP (RFC 5321 §4.1.1.8).
    case help
    /// EXPN (RFC 5321 §4.1.1.7), not implemented.
    case expand
    /// STARTTLS (RFC 3207): on the submission listener only; the onion
    /// listener's TLS is implicit.
    case startTLS
    /// AUTH (RFC 4954): on the submission listener only.
    case authenticate
    /// TURN (RFC 1123 §5.2.9), not implemented.
    case turn
    /// ETRN (RFC 1985), not implemented.
    case extendedTurn

    /// The verb as written on the wire, in capitals.
    public var name: String {
        VerbTable.entry(for: self).name
    }

    /// Whether the verb can only be the last command of a pipelined group
    /// (RFC 2920 §3.1), so that an adapter may flush replies after it.
    public var endsPipelinedGroup: Bool {
        VerbTable.entry(for: self).flags.contains(.endsPipelinedGroup)
    }
}

/// What must hold in the session before a verb may run.
struct VerbRequirements: OptionSet, Sendable {
    let rawValue: UInt8

    /// EHLO or HELO was accepted.
    static let hello = VerbRequirements(rawValue: 1 << 0)
    /// EHLO (not HELO) was accepted: the verb belongs to a service extension.
    static let extendedHello = VerbRequirements(rawValue: 1 << 1)
    /// No transaction is open (MAIL may not nest).
    static let noTransaction = VerbRequirements(rawValue: 1 << 2)
    /// A transaction is open (MAIL was accepted).
    static let transaction = VerbRequirements(rawValue: 1 << 3)
    /// At least one recipient was accepted.
    static let recipient = VerbRequirements(rawValue: 1 << 4)
    /// No BDAT chunk was sent in this transaction.
    static let noChunks = VerbRequirements(rawValue: 1 << 5)
}

/// How a verb behaves.
struct VerbFlags: OptionSet, Sendable {
    let rawValue: UInt8

    /// The server implements the verb; otherwise it answers 502 5.5.1 in any
    /// state (RFC 5321 §4.2.4).
    static let implemented = VerbFlags(rawValue: 1 << 0)
    /// The verb can only be the last command in a pipelined group.
    static let endsPipelinedGroup = VerbFlags(rawValue: 1 << 1)
    /// The verb's path may carry UTF-8 (with SMTPUTF8); elsewhere in a command
    /// line non-ASCII is an error.
    static let acceptsUTF8Path = VerbFlags(rawValue: 1 << 2)
    /// The verb ends any open transaction.
    static let resetsTransaction = VerbFlags(rawValue: 1 << 3)
    /// The verb is followed by data the client sends without waiting, which
    /// must be read even when the verb is refused; its sequence checks are
    /// answered after that data.
    static let consumesDataWhenRefused = VerbFlags(rawValue: 1 << 4)
    /// The submission listener (RFC 6409) implements the verb even though
    /// the onion listener does not (`implemented` is not set).
    static let submission = VerbFlags(rawValue: 1 << 5)
}

/// One row of the verb table.
struct VerbEntry: Sendable {
    let verb: Verb
    /// The verb as written on the wire, in capitals.
    let name: String
    let requirements: VerbRequirements
    let flags: VerbFlags
}

/// The table of verbs.
enum VerbTable {
    /// Every verb, in the order HELP lists them.
    static let entries: [VerbEntry] = [
        // EHLO may come at any time and resets the session state
        // (RFC 5321 §4.1.4); ends a group (RFC 2920 §3.1).
        VerbEntry(verb: .extendedHello, name: "EHLO", requirements: [],
                  flags: [.implemented, .resetsTransaction, .endsPipelinedGroup]),
        // HELO likewise (RFC 5321 §4.1.4); a HELO client does not pipeline.
        VerbEntry(verb: .hello, name: "HELO", requirements: [],
                  flags: [.implemented, .resetsTransaction]),
        // MAIL needs a greeting and may not nest (RFC 5321 §4.1.4: "MAIL ...
        // may be issued only when no mail transaction is in progress");
        // its reverse path may be UTF-8 (RFC 6531 §3.3).
        VerbEntry(verb: .mail, name: "MAIL", requirements: [.hello, .noTransaction],
                  flags: [.implemented, .acceptsUTF8Path]),
        // RCPT needs MAIL (RFC 5321 §4.1.1.3, §4.1.4).
        VerbEntry(verb: .recipient, name: "RCPT", requirements: [.hello, .transaction],
                  flags: [.implemented, .acceptsUTF8Path]),
        // DATA needs a recipient (RFC 5321 §4.1.1.4: "If there was no MAIL, or
        // no RCPT, command, or all such commands were rejected, the server
        // MAY return a ... 503"); not after BDAT (RFC 3030 §2); ends a group
        // (RFC 2920 §3.1).
        VerbEntry(verb: .data, name: "DATA",
                  requirements: [.hello, .transaction, .recipient, .noChunks],
                  flags: [.implemented, .endsPipelinedGroup]),
        // BDAT is ESMTP only (RFC 3030 §2), needs MAIL and RCPT like DATA, and
        // its chunk is read even when refused, and further chunks already in the
        // pipeline are accepted and discarded (RFC 3030 §2), so BDAT does not
        // end a group: RFC 3030 specifies otherwise (RFC 2920 §3.1).
        VerbEntry(verb: .binaryData, name: "BDAT",
                  requirements: [.hello, .extendedHello, .transaction, .recipient],
                  flags: [.implemented, .consumesDataWhenRefused]),
        // RSET may come at any time, even before EHLO (RFC 5321 §4.1.4).
        VerbEntry(verb: .reset, name: "RSET", requirements: [],
                  flags: [.implemented, .resetsTransaction]),
        // NOOP any time (RFC 5321 §4.1.4); ends a group (RFC 2920 §3.1).
        VerbEntry(verb: .noop, name: "NOOP", requirements: [],
                  flags: [.implemented, .endsPipelinedGroup]),
        // QUIT any time (RFC 5321 §4.1.1.10); ends a group (RFC 2920 §3.1).
        VerbEntry(verb: .quit, name: "QUIT", requirements: [],
                  flags: [.implemented, .endsPipelinedGroup]),
        // VRFY any time (RFC 5321 §4.1.4); ends a group (RFC 2920 §3.1).
        VerbEntry(verb: .verify, name: "VRFY", requirements: [],
                  flags: [.implemented, .endsPipelinedGroup]),
        // HELP any time (RFC 5321 §4.1.4).
        VerbEntry(verb: .help, name: "HELP", requirements: [],
                  flags: [.implemented]),
        // EXPN: ends a group (RFC 2920 §3.1); not offered (RFC 5321 §7.3).
        VerbEntry(verb: .expand, name: "EXPN", requirements: [],
                  flags: [.endsPipelinedGroup]),
        // STARTTLS must end a group (RFC 3207 §4). The onion listener's TLS
        // is already on; the submission listener offers it after EHLO (it is
        // an extension, RFC 5321 §4.1.1.1) and outside a transaction (its
        // state is forgotten by the handshake, RFC 3207 §4.2).
        VerbEntry(verb: .startTLS, name: "STARTTLS", requirements: [.hello, .extendedHello, .noTransaction],
                  flags: [.endsPipelinedGroup, .submission]),
        // AUTH is not offered on the onion listener: onion nodes relay
        // nothing for anyone. On the submission listener it needs EHLO and
        // is refused inside a transaction with 503 (RFC 4954 §4). Commands
        // of extensions end a group unless their extension says otherwise
        // (RFC 2920 §3.1).
        VerbEntry(verb: .authenticate, name: "AUTH", requirements: [.hello, .extendedHello, .noTransaction],
                  flags: [.endsPipelinedGroup, .submission]),
        // TURN: ends a group (RFC 2920 §3.1); obsolete (RFC 2821 §4.1.1).
        VerbEntry(verb: .turn, name: "TURN", requirements: [],
                  flags: [.endsPipelinedGroup]),
        // ETRN is not offered; an extension command, so it ends a group
        // (RFC 2920 §3.1).
        VerbEntry(verb: .extendedTurn, name: "ETRN", requirements: [],
                  flags: [.endsPipelinedGroup]),
    ]

    /// The row of `verb`.
    static func entry(for verb: Verb) -> VerbEntry {
        for entry in entries where entry.verb == verb {
            return entry
        }
        // Unreachable: the table has a row for every verb (checked by tests).
        return VerbEntry(verb: verb, name: "", requirements: [], flags: [])
    }

    /// The row whose name matches `bytes` (ASCII case-insensitive), if any.
    static func entry(named bytes: ArraySlice<UInt8>) -> VerbEntry? {
        for entry in entries where entry.name.utf8.elementsEqual(bytes, by: { $0 == $1.asciiUppercased }) {
            return entry
        }
        return nil
    }

    /// The names of the implemented verbs, for HELP.
    static var implementedNames: [String] {
        entries.filter { $0.flags.contains(.implemented) }.map { $0.name }
    }

    /// The names of the verbs the submission listener implements, for HELP.
    static var submissionNames: [String] {
        entries.filter { $0.flags.contains(.implemented) || $0.flags.contains(.submission) }.map { $0.name }
    }

    /// Whether `entry` runs on a listener with (`submission`) or without the
    /// submission verbs.
    static func isImplemented(_ entry: VerbEntry, submission: Bool) -> Bool {
        entry.flags.contains(.implemented) || (submission && entry.flags.contains(.submission))
    }
}

extension UInt8 {
    /// The octet with an ASCII small letter capitalised.
    fileprivate var asciiUppercased: UInt8 {
        self >= 0x61 && self <= 0x7A ? self - 0x20 : self
    }
}
