// SubmissionSessionTests.swift — the server session with the submission
// profile (RFC 6409), in memory against a simulated core that frames lines
// and, on `.startTLS`, discards what is buffered and frames nothing until the
// handshake (as smtorp_conn_start_tls does): STARTTLS (RFC 3207), AUTH PLAIN
// (RFC 4954, RFC 4616), the authentication requirement, the recipient policy
// with its mixing rule, and the limits of AUTH lines.

import XCTest
@testable import SMTorP

/// The node of these tests and a remote SMTorP node.
enum SubmissionNode {
    static let onion = "aoqqpp7tzyil4hlq3umoos6atft6jvrqtosq2xy53sdgiesvgg4bqead.onion"
    static let label = "mzxw6ytboimzxw6ytboimzxw6ytboimzxw6ytboimzxw6ytboiab"
    static let remote = "hnvcppgow2sc2yvdvdicu3ynonsteflxdxrehjr2ybekdc2z3iu63yid.onion"

    static var policy: SubmissionPolicy {
        SubmissionPolicy(node: NodePolicy(onionHostname: onion, fingerprintLabel: label,
                                          aliases: ["alias.test"], mailboxes: ["alice", "bob"]))
    }

    /// `AUTH PLAIN` credentials as the client sends them.
    static func plain(_ authzid: String, _ user: String, _ password: String) -> String {
        Base64.encode(Array(authzid.utf8) + [0] + Array(user.utf8) + [0] + Array(password.utf8))
    }
}

/// A simulated core in front of a submission session.
struct SubmissionWire {
    var session: ServerSession<SubmissionPolicy>
    var framing: CoreFraming
    /// Between `.startTLS` and the handshake nothing is framed.
    var tlsPending = false
    var effects: [SubmissionEffect] = []
    var autoStore: StoreResult? = .stored(queueID: "Q1")
    /// When set, `.checkPassword` is answered at once from `passwords`.
    var autoCheck = true
    var passwords: [String: String] = ["alice": "secret"]

    /// A session that received `.ready`. Profile defaults: a listener on
    /// loopback (cleartext AUTH allowed), STARTTLS available, AUTH required.
    static func connected(
        tlsActive: Bool = false, tlsAvailable: Bool = true, authRequired: Bool = true,
        cleartextAuthAllowed: Bool = true, limits: Limits = Limits()
    ) -> SubmissionWire {
        let configuration = ServerConfiguration(
            hostname: SubmissionNode.onion, limits: limits,
            profile: .submission(tlsActive: tlsActive, tlsAvailable: tlsAvailable, authRequired: authRequired,
                                 cleartextAuthAllowed: cleartextAuthAllowed))
        var wire = SubmissionWire(session: ServerSession(configuration: configuration, policy: SubmissionNode.policy),
                                  framing: CoreFraming(maxLine: limits.commandLineLength))
        wire.input(.ready)
        return wire
    }

    mutating func input(_ input: ServerInput) {
        apply(session.receiveSubmission(input))
        pump()
    }

    mutating func send(_ lines: String...) {
        sendBytes(lines.flatMap { Array($0.utf8) + [0x0D, 0x0A] })
    }

    mutating func sendBytes(_ bytes: [UInt8]) {
        framing.buffer.append(contentsOf: bytes)
        pump()
    }

    /// The TLS handshake after STARTTLS completes.
    mutating func handshake() {
        tlsPending = false
        input(.ready)
    }

    private mutating func apply(_ new: [SubmissionEffect]) {
        for effect in new {
            effects.append(effect)
            switch effect {
            case .server(.expectLines(let maxLength)):
                framing.mode = .lines(maxLength)
            case .server(.expectBytes(let count)):
                framing.mode = .bytes(count)
            case .server(.store):
                if let autoStore {
                    apply(session.receiveSubmission(.stored(autoStore)))
                }
            case .server(.send), .server(.setReadTimeout), .server(.close):
                break
            case .server(.checkStamp):
                XCTFail("the submission listener never asks for proof of work")
            case .startTLS:
                framing.discardBuffered()  // RFC 3207 §4: pre-TLS input is discarded
                tlsPending = true
            case .checkPassword(let user, let password):
                if autoCheck {
                    let isCorrect = passwords[user].map { Array($0.utf8) == password } ?? false
                    apply(session.receiveSubmission(.passwordChecked(isCorrect)))
                }
            }
        }
    }

    private mutating func pump() {
        while !session.isClosed && !tlsPending, let input = framing.next() {
            apply(session.receiveSubmission(input))
        }
    }

    var replies: [Reply] {
        effects.compactMap { effect in
            if case .server(.send(let reply)) = effect { return reply }
            return nil
        }
    }

    /// "code enhanced" of every reply, or just the code.
    var codes: [String] {
        replies.map { reply in reply.enhanced.map { "\(reply.code) \($0.text)" } ?? "\(reply.code)" }
    }

    var stores: [(envelope: Envelope, message: [UInt8])] {
        effects.compactMap { effect in
            if case .server(.store(let envelope, let message)) = effect { return (envelope, message) }
            return nil
        }
    }

    var transcript: String {
        String(decoding: replies.flatMap { $0.wireBytes() }, as: UTF8.self)
    }

    mutating func clear() {
        effects.removeAll()
    }
}

final class SubmissionSessionTests: XCTestCase {
    let alicePlain = SubmissionNode.plain("", "alice", "secret")
    let remote = "carol@" + SubmissionNode.remote
    let local = "bob@" + SubmissionNode.onion

    // MARK: EHLO

    func testEHLOOffersSTARTTLSBeforeTLSAndAUTHOnlyWhereAllowed() {
        let relayExtensions = "250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
            + "250-SMTPUTF8\r\n"
        // Not on loopback, before TLS: STARTTLS, no AUTH.
        var wire = SubmissionWire.connected(cleartextAuthAllowed: false)
        XCTAssertEqual(wire.transcript, "220 \(SubmissionNode.onion) ESMTP\r\n")
        wire.clear()
        wire.send("EHLO mua.example")
        XCTAssertEqual(wire.transcript, "250-\(SubmissionNode.onion)\r\n" + relayExtensions
                       + "250-CHUNKING\r\n250 STARTTLS\r\n")
        // After STARTTLS: AUTH PLAIN, no STARTTLS.
        wire.send("STARTTLS")
        wire.handshake()
        wire.clear()
        wire.send("EHLO mua.example")
        XCTAssertEqual(wire.transcript, "250-\(SubmissionNode.onion)\r\n" + relayExtensions
                       + "250-CHUNKING\r\n250 AUTH PLAIN\r\n")
        // On loopback: both before TLS.
        var loopback = SubmissionWire.connected(cleartextAuthAllowed: true)
        loopback.clear()
        loopback.send("EHLO mua.example")
        XCTAssertEqual(loopback.replies.last?.lines.suffix(2), ["STARTTLS", "AUTH PLAIN"])
        // No TLS context: no STARTTLS.
        var noTLS = SubmissionWire.connected(tlsAvailable: false, cleartextAuthAllowed: true)
        noTLS.clear()
        noTLS.send("EHLO mua.example")
        XCTAssertEqual(noTLS.replies.last?.lines.suffix(2), ["CHUNKING", "AUTH PLAIN"])
    }

    // MARK: STARTTLS

    func testSTARTTLSAnswers220ThenStartsTLSAndForgetsEverything() {
        var wire = SubmissionWire.connected(cleartextAuthAllowed: true)
        wire.send("EHLO mua.example", "AUTH PLAIN " + alicePlain)
        XCTAssertEqual(wire.codes.suffix(2), ["250", "235 2.7.0"])
        wire.clear()
        // A command injected behind STARTTLS in the same write is never
        // answered (RFC 3207 §4, CVE-2011-0411).
        wire.send("STARTTLS", "MAIL FROM:<injected@example.org>")
        XCTAssertEqual(wire.effects, [.server(.send(Reply(220, EnhancedStatusCode(2, 0, 0), "Ready to start TLS"))),
                                      .startTLS])
        XCTAssertEqual(wire.transcript, "220 2.0.0 Ready to start TLS\r\n")
        // Lines before the handshake (if a core delivered any) are ignored.
        XCTAssertEqual(wire.session.receiveSubmission(.line(Array("EHLO x\r".utf8))), [])
        wire.clear()
        // RFC 3207 §4.2: no greeting after the handshake, only framing.
        wire.handshake()
        XCTAssertEqual(wire.effects, [.server(.expectLines(maxLength: 12_288)),
                                      .server(.setReadTimeout(milliseconds: 300_000))])
        wire.clear()
        // The EHLO and the (cleartext) authentication are forgotten.
        wire.send("MAIL FROM:<alice@\(SubmissionNode.onion)>", "EHLO mua.example",
                  "MAIL FROM:<alice@\(SubmissionNode.onion)>")
        XCTAssertEqual(wire.codes, ["503 5.5.1", "250", "530 5.7.0"])
        XCTAssertNil(wire.session.authenticatedUserName)
        // A second .ready changes nothing.
        XCTAssertEqual(wire.session.receiveSubmission(.ready), [])
    }

    func testSTARTTLSRefusals() {
        let cases: [(name: String, tlsActive: Bool, tlsAvailable: Bool, lines: [String], expected: [String])] = [
            ("under TLS", true, true, ["EHLO m.example", "STARTTLS"], ["250", "503 5.5.1"]),
            ("no TLS context", false, false, ["EHLO m.example", "STARTTLS"], ["250", "502 5.5.1"]),
            ("with an argument", false, true, ["EHLO m.example", "STARTTLS now"], ["250", "501 5.5.4"]),
            ("before EHLO", false, true, ["STARTTLS"], ["503 5.5.1"]),
            ("after HELO", false, true, ["HELO m.example", "STARTTLS"], ["250", "503 5.5.1"]),
            ("in a transaction", false, true,
             ["EHLO m.example", "AUTH PLAIN " + alicePlain, "MAIL FROM:<alice@\(SubmissionNode.onion)>", "STARTTLS"],
             ["250", "235 2.7.0", "250 2.1.0", "503 5.5.1"]),
        ]
        for testCase in cases {
            var wire = SubmissionWire.connected(tlsActive: testCase.tlsActive, tlsAvailable: testCase.tlsAvailable)
            wire.clear()
            for line in testCase.lines {
                wire.send(line)
            }
            XCTAssertEqual(wire.codes, testCase.expected, testCase.name)
            XCTAssertFalse(wire.effects.contains(.startTLS), testCase.name)
        }
        var wire = SubmissionWire.connected(tlsActive: true)
        wire.send("EHLO m.example", "STARTTLS")
        XCTAssertEqual(wire.replies.last?.lines, ["Error: TLS already active"])
        wire = SubmissionWire.connected()
        wire.send("HELO m.example", "STARTTLS")
        XCTAssertEqual(wire.replies.last?.lines, ["Error: STARTTLS requires EHLO"])
        wire = SubmissionWire.connected()
        wire.send("EHLO m.example", "AUTH PLAIN " + alicePlain, "MAIL FROM:<>", "STARTTLS")
        XCTAssertEqual(wire.replies.last?.lines, ["Error: MAIL transaction in progress"])
    }

    // MARK: AUTH PLAIN

    func testAuthPlainWithInitialResponse() {
        var wire = SubmissionWire.connected(tlsActive: true, cleartextAuthAllowed: false)
        wire.clear()
        wire.send("EHLO mua.example", "AUTH PLAIN " + alicePlain)
        XCTAssertTrue(wire.effects.contains(.checkPassword(user: "alice", password: Array("secret".utf8))))
        XCTAssertEqual(wire.codes, ["250", "235 2.7.0"])
        XCTAssertEqual(wire.replies.last?.wireBytes(), Array("235 2.7.0 Authentication successful\r\n".utf8))
        XCTAssertEqual(wire.session.authenticatedUserName, "alice")
        wire.send("MAIL FROM:<alice@\(SubmissionNode.onion)>", "RCPT TO:<\(remote)>", "DATA", "Subject: x", "", "hi",
                  ".")
        XCTAssertEqual(wire.codes.suffix(4), ["250 2.1.0", "250 2.1.5", "354", "250 2.0.0"])
        XCTAssertEqual(wire.stores.first?.envelope.authenticatedUser, "alice")
        XCTAssertEqual(wire.stores.first?.envelope.protocolName, "ESMTPSA")  // RFC 3848
    }

    func testAuthPlainTwoStepAndCancel() {
        var wire = SubmissionWire.connected()
        wire.send("EHLO mua.example")
        wire.clear()
        wire.send("auth plain")
        XCTAssertEqual(wire.transcript, "334 \r\n", "RFC 4954: \"334\" SP, an empty challenge")
        wire.send(alicePlain)
        XCTAssertEqual(wire.codes, ["334", "235 2.7.0"])
        wire.send("MAIL FROM:<alice@\(SubmissionNode.onion)>", "RCPT TO:<\(local)>", "DATA", "x", ".")
        XCTAssertEqual(wire.stores.first?.envelope.protocolName, "ESMTPA")

        var cancelled = SubmissionWire.connected()
        cancelled.send("EHLO mua.example")
        cancelled.clear()
        cancelled.send("AUTH PLAIN", "*", "MAIL FROM:<>")
        XCTAssertEqual(cancelled.codes, ["334", "501 5.0.0", "530 5.7.0"])
        XCTAssertEqual(cancelled.replies[1].lines, ["Authentication cancelled"])
        XCTAssertFalse(cancelled.effects.contains { if case .checkPassword = $0 { return true }; return false })
    }

    func testBadBase64AndMalformedPlainMessages() {
        let badBase64 = ["!!!!", "YWJj*", "YQ", "YWJjZA=x"]
        for text in badBase64 {
            var wire = SubmissionWire.connected()
            wire.send("EHLO mua.example")
            wire.clear()
            wire.send("AUTH PLAIN " + text)
            XCTAssertEqual(wire.codes, ["501 5.5.2"], text)
            XCTAssertEqual(wire.replies.first?.lines, ["Invalid base64 data"], text)
            wire.clear()
            wire.send("AUTH PLAIN", text)
            XCTAssertEqual(wire.codes, ["334", "501 5.5.2"], "two-step " + text)
        }
        let malformed: [(String, [UInt8])] = [
            ("one NUL", Array("alice".utf8) + [0] + Array("secret".utf8)),
            ("three NULs", [0] + Array("alice".utf8) + [0] + Array("secret".utf8) + [0]),
            ("empty user", [0, 0] + Array("secret".utf8)),
            ("empty password", [0] + Array("alice".utf8) + [0]),
            ("empty message", []),
            ("not UTF-8", [0] + Array("alice".utf8) + [0, 0xFF, 0xFE]),
            ("user over 255 octets", [0] + [UInt8](repeating: 0x61, count: 256) + [0] + Array("secret".utf8)),
        ]
        for (name, message) in malformed {
            var wire = SubmissionWire.connected()
            wire.send("EHLO mua.example")
            wire.clear()
            wire.send("AUTH PLAIN " + (message.isEmpty ? "=" : Base64.encode(message)))
            XCTAssertEqual(wire.codes, ["501 5.5.2"], name)
            XCTAssertEqual(wire.replies.first?.lines, ["Invalid SASL PLAIN message"], name)
        }
    }

    func testWrongPasswordUnknownUserAndForeignAuthorizationIdentity() {
        let cases: [(name: String, response: String, checks: Bool, expected: String)] = [
            ("wrong password", SubmissionNode.plain("", "alice", "guess"), true, "535 5.7.8"),
            ("unknown user", SubmissionNode.plain("", "mallory", "secret"), true, "535 5.7.8"),
            ("authzid is another user", SubmissionNode.plain("bob", "alice", "secret"), false, "535 5.7.8"),
            ("authzid is the user", SubmissionNode.plain("alice", "alice", "secret"), true, "235 2.7.0"),
        ]
        for testCase in cases {
            var wire = SubmissionWire.connected()
            wire.send("EHLO mua.example")
            wire.clear()
            wire.send("AUTH PLAIN " + testCase.response, "MAIL FROM:<alice@\(SubmissionNode.onion)>")
            XCTAssertEqual(wire.codes.first, testCase.expected, testCase.name)
            XCTAssertEqual(wire.codes.last, testCase.expected == "235 2.7.0" ? "250 2.1.0" : "530 5.7.0",
                           testCase.name)
            XCTAssertEqual(wire.effects.contains { if case .checkPassword = $0 { return true }; return false },
                           testCase.checks, testCase.name)
        }
        var wire = SubmissionWire.connected()
        wire.send("EHLO mua.example", "AUTH PLAIN " + SubmissionNode.plain("", "alice", "guess"))
        XCTAssertEqual(wire.replies.last?.wireBytes(), Array("535 5.7.8 Authentication credentials invalid\r\n".utf8))
    }

    func testEncryptionRequiredBeforeTLSAwayFromLoopback() {
        var wire = SubmissionWire.connected(cleartextAuthAllowed: false)
        wire.send("EHLO mua.example")
        wire.clear()
        wire.send("AUTH PLAIN " + alicePlain, "AUTH PLAIN", "MAIL FROM:<>")
        XCTAssertEqual(wire.codes, ["538 5.7.11", "538 5.7.11", "530 5.7.0"])
        XCTAssertEqual(wire.replies[0].wireBytes(),
                       Array("538 5.7.11 Encryption required for requested authentication mechanism\r\n".utf8))
        XCTAssertEqual(wire.replies[2].wireBytes(), Array("530 5.7.0 Authentication required\r\n".utf8))
        XCTAssertFalse(wire.effects.contains { if case .checkPassword = $0 { return true }; return false })
        // After STARTTLS the same AUTH works.
        wire.send("STARTTLS")
        wire.handshake()
        wire.clear()
        wire.send("EHLO mua.example", "AUTH PLAIN " + alicePlain)
        XCTAssertEqual(wire.codes, ["250", "235 2.7.0"])
    }

    func testAuthenticationRequiredOnlyWhenConfigured() {
        var wire = SubmissionWire.connected()
        wire.send("EHLO mua.example")
        wire.clear()
        wire.send("MAIL FROM:<alice@\(SubmissionNode.onion)>", "RCPT TO:<\(local)>")
        XCTAssertEqual(wire.codes, ["530 5.7.0", "503 5.5.1"])
        var open = SubmissionWire.connected(authRequired: false)
        open.send("EHLO mua.example")
        open.clear()
        open.send("MAIL FROM:<alice@\(SubmissionNode.onion)>", "RCPT TO:<\(local)>")
        XCTAssertEqual(open.codes, ["250 2.1.0", "250 2.1.5"])
    }

    func testAuthSequenceAndMechanismErrors() {
        var wire = SubmissionWire.connected()
        wire.send("EHLO mua.example")
        wire.clear()
        wire.send("AUTH LOGIN", "AUTH CRAM-MD5 abc", "AUTH", "AUTH PLAIN a b", "AUTH PL@IN",
                  "AUTH PLAIN " + alicePlain, "AUTH PLAIN " + alicePlain,
                  "MAIL FROM:<alice@\(SubmissionNode.onion)>", "AUTH PLAIN " + alicePlain)
        XCTAssertEqual(wire.codes, ["504 5.5.4", "504 5.5.4", "501 5.5.4", "501 5.5.2", "501 5.5.2",
                                    "235 2.7.0", "503 5.5.1", "250 2.1.0", "503 5.5.1"])
        XCTAssertEqual(wire.replies[6].lines, ["Error: already authenticated"])
        XCTAssertEqual(wire.replies[8].lines, ["Error: MAIL transaction in progress"])  // RFC 4954 §4
        var helo = SubmissionWire.connected()
        helo.clear()
        helo.send("AUTH PLAIN " + alicePlain, "HELO mua.example", "AUTH PLAIN " + alicePlain)
        XCTAssertEqual(helo.codes, ["503 5.5.1", "250", "503 5.5.1"])
        XCTAssertEqual(helo.replies[2].lines, ["Error: AUTH requires EHLO"])
    }

    func testFailedAuthenticationsCountAsProtocolErrors() {
        var wire = SubmissionWire.connected(limits: Limits(maxProtocolErrors: 3))
        wire.send("EHLO mua.example")
        wire.clear()
        let wrong = "AUTH PLAIN " + SubmissionNode.plain("", "alice", "guess")
        wire.send(wrong, wrong, wrong, "NOOP")
        XCTAssertEqual(wire.codes, ["535 5.7.8", "535 5.7.8", "535 5.7.8", "421 4.7.0"])
        XCTAssertTrue(wire.session.isClosed)
        XCTAssertEqual(wire.effects.last, .server(.close))
    }

    func testPipelinedCommandsWaitForThePasswordCheck() {
        var wire = SubmissionWire.connected()
        wire.autoCheck = false
        wire.send("EHLO mua.example")
        wire.clear()
        wire.send("AUTH PLAIN " + alicePlain, "MAIL FROM:<alice@\(SubmissionNode.onion)>", "RCPT TO:<\(local)>")
        XCTAssertEqual(wire.effects, [.checkPassword(user: "alice", password: Array("secret".utf8))])
        XCTAssertEqual(wire.session.receiveSubmission(.stored(.stored(queueID: "X"))), [], "not waiting for a store")
        wire.clear()
        wire.input(.passwordChecked(true))
        XCTAssertEqual(wire.codes, ["235 2.7.0", "250 2.1.0", "250 2.1.5"])
        XCTAssertEqual(wire.session.receiveSubmission(.passwordChecked(false)), [], "no check outstanding")
    }

    func testAuthLineLimits() {
        // RFC 4954 §4: AUTH lines may exceed 512 octets (here 255-octet
        // fields: the PLAIN maximum of RFC 4616), other commands may not.
        let longUser = String(repeating: "u", count: 255)
        let longPassword = String(repeating: "p", count: 255)
        let long = "AUTH PLAIN " + SubmissionNode.plain(longUser, longUser, longPassword)
        XCTAssertGreaterThan(long.utf8.count, 1000)
        var wire = SubmissionWire.connected()
        wire.passwords[longUser] = longPassword
        wire.send("EHLO mua.example")
        wire.clear()
        wire.send("NOOP " + String(repeating: "x", count: 600), long)
        XCTAssertEqual(wire.codes, ["500 5.5.2", "235 2.7.0"])

        // Past the AUTH line limit: the command (500 5.5.2) and the response
        // line (500 5.5.6).
        let limits = Limits(authenticationLineLength: 600)
        var limited = SubmissionWire.connected(limits: limits)
        limited.send("EHLO mua.example")
        limited.clear()
        limited.send("AUTH PLAIN " + String(repeating: "A", count: 600))
        limited.send("AUTH PLAIN", String(repeating: "A", count: 600), "NOOP")
        XCTAssertEqual(limited.codes, ["500 5.5.2", "334", "500 5.5.6", "250 2.0.0"])
        XCTAssertEqual(limited.replies[2].lines, ["Authentication exchange line is too long (limit 600 octets)"])

        // Past the field limit: the message is invalid.
        var fields = SubmissionWire.connected(limits: Limits(authenticationFieldLength: 5))
        fields.send("EHLO mua.example")
        fields.clear()
        fields.send("AUTH PLAIN " + SubmissionNode.plain("", "alice", "secret"),
                    "AUTH PLAIN " + SubmissionNode.plain("", "alice", "12345"))
        XCTAssertEqual(fields.codes, ["501 5.5.2", "535 5.7.8"])
    }

    // MARK: Recipients

    func testRecipientPolicyAndTheMixingRule() {
        let mixing = "550 5.7.1 Mixing SMTorP and legacy recipients in one message is refused "
            + "(legacy recipients could not reply to all)\r\n"
        let legacy = "550 5.7.1 legacy (non-onion) recipients need a smarthost, none is configured\r\n"
        var wire = SubmissionWire.connected()
        wire.send("EHLO mua.example", "AUTH PLAIN " + alicePlain, "MAIL FROM:<alice@\(SubmissionNode.onion)>")
        wire.clear()
        wire.send("RCPT TO:<\(remote)>", "RCPT TO:<\(local)>", "RCPT TO:<dave@example.org>",
                  "RCPT TO:<nobody@\(SubmissionNode.onion)>", "RCPT TO:<bob@alias.test>")
        XCTAssertEqual(wire.codes, ["250 2.1.5", "250 2.1.5", "550 5.7.1", "550 5.1.1", "250 2.1.5"])
        XCTAssertEqual(String(decoding: wire.replies[2].wireBytes(), as: UTF8.self), mixing)
        wire.send("DATA", "Subject: mixed?", "", "no", ".")
        XCTAssertEqual(wire.stores.first?.envelope.recipients.map { $0.text },
                       [remote, local, "bob@alias.test"])

        wire.clear()
        wire.send("MAIL FROM:<alice@\(SubmissionNode.onion)>", "RCPT TO:<dave@example.org>", "RCPT TO:<\(remote)>")
        XCTAssertEqual(wire.codes, ["250 2.1.0", "550 5.7.1", "250 2.1.5"])
        XCTAssertEqual(String(decoding: wire.replies[1].wireBytes(), as: UTF8.self), legacy)
    }
}

/// The onion listener's profile is untouched by the submission verbs.
final class SubmissionRelayProfileTests: XCTestCase {
    func testRelayStillRefusesSTARTTLSAndAUTH() {
        var session = ServerSession(configuration: ServerConfiguration(hostname: "h.onion"), policy: AcceptAllPolicy())
        _ = session.receive(.ready)
        XCTAssertEqual(session.receive(.line(Array("EHLO c.example\r".utf8))).count, 1)
        for line in ["STARTTLS", "AUTH PLAIN " + SubmissionNode.plain("", "a", "b")] {
            XCTAssertEqual(session.receive(.line(Array((line + "\r").utf8))), [.send(.notImplemented)], line)
        }
        XCTAssertEqual(session.receive(.passwordChecked(true)), [])
        XCTAssertEqual(try Command.parse(verb: .authenticate, arguments: Array("PLAIN x".utf8)[...], limits: Limits()),
                       .notImplemented(.authenticate))
        XCTAssertEqual(try Command.parse(verb: .authenticate, arguments: Array("plain x=".utf8)[...], limits: Limits(),
                                         submission: true),
                       .authenticate(mechanism: "PLAIN", initialResponse: "x="))
    }

    func testHelpListsTheSubmissionVerbs() {
        var wire = SubmissionWire.connected()
        wire.clear()
        wire.send("HELP")
        XCTAssertEqual(wire.replies.first?.lines.first,
                       "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH")
    }

    func testLoopbackDetection() {
        for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"] {
            XCTAssertTrue(ServerProfile.isLoopback(host), host)
        }
        for host in ["0.0.0.0", "::", "192.0.2.1", "128.0.0.1", "127.0.0.256", "127.0.0", "10.127.0.1", "127.0.0.1.5"] {
            XCTAssertFalse(ServerProfile.isLoopback(host), host)
        }
        XCTAssertEqual(ServerProfile.submission(listeningOn: "127.0.0.1", tlsAvailable: true, requireTLS: false),
                       .submission(tlsActive: false, tlsAvailable: true, authRequired: true, cleartextAuthAllowed: true))
        XCTAssertEqual(ServerProfile.submission(listeningOn: "127.0.0.1", tlsAvailable: true, requireTLS: true),
                       .submission(tlsActive: false, tlsAvailable: true, authRequired: true, cleartextAuthAllowed: false))
        XCTAssertEqual(ServerProfile.submission(listeningOn: "0.0.0.0", tlsAvailable: true, requireTLS: false),
                       .submission(tlsActive: false, tlsAvailable: true, authRequired: true, cleartextAuthAllowed: false))
    }
}
