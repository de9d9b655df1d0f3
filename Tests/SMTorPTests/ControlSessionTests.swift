// ControlSessionTests.swift: the Tor control-port client without sockets.
// Table-driven tests of the reply framing (data blocks, dot-unstuffing,
// events interleaved with replies), QuotedString escapes, command rendering
// and its refusal of injected lines, every authentication path (SAFECOOKIE
// with a wrong server hash refused, COOKIE, HASHEDPASSWORD, NULL, 515),
// GETINFO / ADD_ONION / DEL_ONION replies, HS_DESC events as Tor 0.4.x
// writes them, descriptor-upload tracking, and malformed input.
// The SAFECOOKIE vector was computed independently with Python's hmac.
import XCTest
@testable import SMTorP

/// A session plus everything it has asked for, driven like the adapter does.
private struct Harness {
    static let cookie: [UInt8] = (0..<32).map { UInt8($0) }
    static let clientNonce: [UInt8] = (0..<32).map { UInt8(0xA0 + $0 % 16) }
    static let cookiePath = "/var/lib/tor/control_auth_cookie"

    var session: ControlSession<CoreControlCrypto>
    var effects: [ControlEffect] = []
    var nextID: UInt64 = 1

    init(configuration: ControlConfiguration = ControlConfiguration()) {
        session = ControlSession(configuration: configuration, clientNonce: Harness.clientNonce,
                                 crypto: CoreControlCrypto())
    }

    /// A harness authenticated with SAFECOOKIE, effects cleared.
    static func authenticated(configuration: ControlConfiguration = ControlConfiguration()) -> Harness {
        var h = Harness(configuration: configuration)
        h.input(.connected)
        h.lines(protocolInfo(methods: "COOKIE,SAFECOOKIE"))
        h.input(.cookie(cookie))
        h.lines(["250 AUTHCHALLENGE SERVERHASH=" + safeCookieServerHash + " SERVERNONCE=" + safeCookieServerNonce])
        h.lines(["250 OK"])
        XCTAssertTrue(h.session.isAuthenticated)
        h.effects = []
        return h
    }

    static let safeCookieServerNonce = "55555555555555555555555555555555AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    static let safeCookieServerHash = "765FC718ADF3DC6AD8718705A8BCAC2F83AF3F013A68D33C0732D9335015A0C0"
    static let safeCookieClientHash = "ABABB819C597BAB43B355AF3807F5C1CC3B88D52ED41D01F97915BDFCF0D96DA"

    static func protocolInfo(methods: String, cookieFile: String? = cookiePath) -> [String] {
        var auth = "250-AUTH METHODS=" + methods
        if let cookieFile { auth += " COOKIEFILE=" + ControlSyntax.quote(cookieFile) }
        return ["250-PROTOCOLINFO 1", auth, "250-VERSION Tor=\"0.4.9.11\"", "250 OK"]
    }

    mutating func input(_ input: ControlInput) {
        effects += session.receive(input)
    }

    /// Feeds lines as Tor writes them (CRLF; the adapter strips the LF).
    mutating func lines(_ lines: [String]) {
        for line in lines { input(.line(Array(line.utf8) + [0x0D])) }
    }

    /// Gives a command; returns its ID.
    @discardableResult
    mutating func command(_ command: ControlCommand) -> ControlCommandID {
        let id = ControlCommandID(nextID)
        nextID += 1
        input(.command(id, command))
        return id
    }

    /// The lines sent so far, without CRLF.
    var sent: [String] {
        effects.compactMap { effect -> String? in
            guard case .send(let bytes) = effect else { return nil }
            XCTAssertEqual(Array(bytes.suffix(2)), [0x0D, 0x0A])
            return String(decoding: bytes.dropLast(2), as: UTF8.self)
        }
    }

    var failures: [ControlError] {
        effects.compactMap { if case .failed(let e) = $0 { return e } else { return nil } }
    }

    var events: [ControlEvent] {
        effects.compactMap { if case .event(let e) = $0 { return e } else { return nil } }
    }

    func reply(_ id: ControlCommandID) -> Result<ControlResponse, ControlError>? {
        for effect in effects {
            if case .reply(let rid, let result) = effect, rid == id { return result }
        }
        return nil
    }
}

final class ControlSessionTests: XCTestCase {
    // MARK: - Reply framing

    private func read(_ lines: [String], limits: ControlLimits = ControlLimits()) throws(ControlError)
        -> [ControlReplyReader.Output] {
        var reader = ControlReplyReader(limits: limits)
        var out: [ControlReplyReader.Output] = []
        for line in lines {
            if let o = try reader.read(Array(line.utf8)) { out.append(o) }
        }
        XCTAssertTrue(reader.isIdle)
        return out
    }

    func testReplyFramingTable() throws {
        let cases: [(String, [String], [ControlReplyReader.Output])] = [
            ("one line", ["250 OK\r"], [.response(ControlReply(code: 250, lines: [.init(text: "OK")]))]),
            ("bare LF", ["250 OK"], [.response(ControlReply(code: 250, lines: [.init(text: "OK")]))]),
            ("mid lines", ["250-version=0.4.9.11\r", "250 OK\r"],
             [.response(ControlReply(code: 250, lines: [.init(text: "version=0.4.9.11"), .init(text: "OK")]))]),
            ("data block with dot-unstuffing",
             ["250+config-text=\r", "SocksPort 0\r", "..hidden\r", ".\r", "250 OK\r"],
             [.response(ControlReply(code: 250, lines: [.init(text: "config-text=", data: "SocksPort 0\n.hidden"),
                                                         .init(text: "OK")]))]),
            ("empty data block", ["250+x=", ".", "250 OK"],
             [.response(ControlReply(code: 250, lines: [.init(text: "x=", data: ""), .init(text: "OK")]))]),
            ("error", ["552 Unrecognized key \"nope\"\r"],
             [.response(ControlReply(code: 552, lines: [.init(text: "Unrecognized key \"nope\"")]))]),
            ("event between a reply's lines",
             ["250-a=1", "650 HS_DESC CREATED x UNKNOWN UNKNOWN d", "250-b=2", "250 OK"],
             [.event(ControlReply(code: 650, lines: [.init(text: "HS_DESC CREATED x UNKNOWN UNKNOWN d")])),
              .response(ControlReply(code: 250, lines: [.init(text: "a=1"), .init(text: "b=2"), .init(text: "OK")]))]),
            ("multi-line event around a reply line",
             ["650-CONF_CHANGED", "250-a=1", "650-SocksPort=0", "650 OK", "250 OK"],
             [.event(ControlReply(code: 650, lines: [.init(text: "CONF_CHANGED"), .init(text: "SocksPort=0"),
                                                      .init(text: "OK")])),
              .response(ControlReply(code: 250, lines: [.init(text: "a=1"), .init(text: "OK")]))]),
        ]
        for (name, lines, expected) in cases {
            XCTAssertEqual(try read(lines), expected, name)
        }
    }

    func testMalformedReplyLinesAreProtocolErrors() {
        let cases: [[String]] = [
            ["hello world"], ["25 OK"], ["250?bad separator"], ["2a0 OK"], ["250"], [""], ["250*OK"],
            ["250-a=1", "251 OK"],  // code changed within a reply
            ["\u{7F}50 OK"],
        ]
        for lines in cases {
            XCTAssertThrowsError(try read(lines), lines.description) { error in
                guard case .protocolViolation = error as? ControlError else {
                    return XCTFail("\(lines): \(error)")
                }
            }
        }
    }

    func testLimitsArePastable() {
        let limits = ControlLimits(lineLength: 64, replyLines: 3, replyOctets: 100)
        // A line of exactly the limit (63 octets + LF) passes; one more fails.
        XCTAssertNoThrow(try read(["250 " + String(repeating: "x", count: 59)], limits: limits))
        XCTAssertThrowsError(try read(["250 " + String(repeating: "x", count: 60)], limits: limits)) {
            XCTAssertEqual($0 as? ControlError, .lineTooLong(limit: 64))
        }
        XCTAssertThrowsError(try read(["250-a", "250-b", "250-c", "250 OK"], limits: limits)) {
            XCTAssertEqual($0 as? ControlError, .replyTooLarge(limit: 3))
        }
        XCTAssertThrowsError(try read(["250+d=", String(repeating: "y", count: 50),
                                       String(repeating: "y", count: 50), ".", "250 OK"],
                                      limits: ControlLimits(lineLength: 64, replyLines: 100, replyOctets: 100))) {
            XCTAssertEqual($0 as? ControlError, .replyTooLarge(limit: 100))
        }
        // The session reports the same, and the adapter's framing limit too.
        var h = Harness(configuration: ControlConfiguration(limits: limits))
        h.input(.connected)
        h.lines(["250-" + String(repeating: "z", count: 100)])
        XCTAssertEqual(h.failures, [.lineTooLong(limit: 64)])
        XCTAssertEqual(h.effects.last, .close)
        var h2 = Harness()
        h2.input(.connected)
        h2.input(.lineTooLong)
        XCTAssertEqual(h2.failures, [.lineTooLong(limit: ControlLimits().lineLength)])
    }

    // MARK: - Syntax

    func testQuotedStrings() throws {
        let valid: [(String, String)] = [
            (#""abc""#, "abc"),
            (#""a b c""#, "a b c"),
            (#""a\"b""#, "a\"b"),
            (#""a\\b""#, "a\\b"),
            (#""\n\t\r""#, "\n\t\r"),
            (#""\101\060\0x""#, "A0\u{0}x"),
            (#""\303\251""#, "é"),  // UTF-8 written as octal bytes
            (#""\x\y""#, "xy"),  // other escaped characters stand for themselves
            (#""""#, ""),
            ("bare", "bare"),
        ]
        for (quoted, plain) in valid {
            XCTAssertEqual(try ControlSyntax.unquote(quoted), plain, quoted)
        }
        for bad in [#""abc"#, #""a"b"#, #""\400""#, #""abc\"#, #"""#] {
            XCTAssertThrowsError(try ControlSyntax.unquote(bad), bad)
        }
        for plain in ["abc", "a\"b\\c", "new\nline\r\t", "nul\u{0}bell\u{7}", "é"] {
            XCTAssertEqual(try ControlSyntax.unquote(ControlSyntax.quote(plain)), plain)
        }
        XCTAssertEqual(ControlSyntax.quote("p\"w\\\n"), #""p\"w\\\n""#)
    }

    func testTokensAndKeywordArguments() throws {
        let tokens = try ControlSyntax.tokens(#"AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/a b/\"c\"" X"#)
        XCTAssertEqual(tokens, ["AUTH", "METHODS=COOKIE,SAFECOOKIE", #"COOKIEFILE="/a b/\"c\"""#, "X"])
        let arguments = try ControlSyntax.keywordArguments(tokens.dropFirst())
        XCTAssertEqual(arguments, ["METHODS": "COOKIE,SAFECOOKIE", "COOKIEFILE": "/a b/\"c\""])
        XCTAssertEqual(try ControlSyntax.tokens("  a   b "), ["a", "b"])
        XCTAssertThrowsError(try ControlSyntax.tokens(#"A="unterminated"#))
        XCTAssertEqual(try ControlSyntax.quotedList(#""127.0.0.1:9050" "[::1]:9050" "unix:/run/tor/socks""#),
                       ["127.0.0.1:9050", "[::1]:9050", "unix:/run/tor/socks"])
        XCTAssertEqual(try ControlSyntax.quotedList(""), [])
        XCTAssertEqual(ControlSyntax.unhex("0aFf"), [0x0A, 0xFF])
        for bad in ["0", "zz", "0g"] { XCTAssertNil(ControlSyntax.unhex(bad)) }
        XCTAssertEqual(ControlSyntax.hex([0x0A, 0xFF]), "0AFF")
        XCTAssertEqual(ControlSyntax.decimal("100"), 100)
        for bad in ["", "-1", "1x", "1234567890"] { XCTAssertNil(ControlSyntax.decimal(bad)) }
    }

    func testBootstrapPhase() throws {
        let done = try ControlBootstrapPhase(parsing: #"NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done""#)
        XCTAssertEqual(done, ControlBootstrapPhase(severity: "NOTICE", progress: 100, tag: "done", summary: "Done"))
        XCTAssertTrue(done.isDone)
        let warn = try ControlBootstrapPhase(parsing:
            #"WARN BOOTSTRAP PROGRESS=5 TAG=conn SUMMARY="Connecting to a relay" WARNING="Network is unreachable" REASON=NOROUTE COUNT=1 RECOMMENDATION=warn HOSTID="$AB" HOSTADDR="1.2.3.4:9001""#)
        XCTAssertEqual(warn.progress, 5)
        XCTAssertEqual(warn.summary, "Connecting to a relay")
        XCTAssertEqual(warn.warning, "Network is unreachable")
        XCTAssertEqual(warn.reason, "NOROUTE")
        for bad in ["NOTICE BOOTSTRAP TAG=done", "NOTICE BOOTSTRAP PROGRESS=101", "NOTICE CIRCUIT_ESTABLISHED",
                    #"NOTICE BOOTSTRAP PROGRESS=1 SUMMARY="open"#] {
            XCTAssertThrowsError(try ControlBootstrapPhase(parsing: bad), bad)
        }
    }

    // MARK: - Authentication

    func testSafeCookieAuthentication() {
        var h = Harness()
        h.input(.connected)
        XCTAssertEqual(h.sent, ["PROTOCOLINFO 1"])
        h.lines(Harness.protocolInfo(methods: "COOKIE,SAFECOOKIE"))
        XCTAssertEqual(h.effects.last, .readCookie(path: Harness.cookiePath))
        h.input(.cookie(Harness.cookie))
        XCTAssertEqual(h.sent.last, "AUTHCHALLENGE SAFECOOKIE " + ControlSyntax.hex(Harness.clientNonce))
        // Tor writes upper-case hex; lower case is accepted as well.
        h.lines(["250 AUTHCHALLENGE SERVERHASH=" + Harness.safeCookieServerHash.lowercased()
                 + " SERVERNONCE=" + Harness.safeCookieServerNonce])
        XCTAssertEqual(h.sent.last, "AUTHENTICATE " + Harness.safeCookieClientHash)
        XCTAssertFalse(h.session.isAuthenticated)
        h.lines(["250 OK"])
        XCTAssertTrue(h.session.isAuthenticated)
        let info = ControlProtocolInfo(protocolVersion: 1, authMethods: ["COOKIE", "SAFECOOKIE"],
                                       cookieFile: Harness.cookiePath, torVersion: "0.4.9.11")
        XCTAssertEqual(h.effects.last, .authenticated(ControlAuthentication(method: .safeCookie, protocolInfo: info)))
        XCTAssertEqual(h.failures, [])
    }

    func testWrongServerHashIsRefused() {
        var h = Harness()
        h.input(.connected)
        h.lines(Harness.protocolInfo(methods: "SAFECOOKIE,COOKIE"))
        var wrongCookie = Harness.cookie
        wrongCookie[7] ^= 1
        h.input(.cookie(wrongCookie))
        let queued = h.command(.getInfo(["version"]))
        h.lines(["250 AUTHCHALLENGE SERVERHASH=" + Harness.safeCookieServerHash
                 + " SERVERNONCE=" + Harness.safeCookieServerNonce])
        XCTAssertEqual(h.failures, [.serverHashMismatch(cookiePath: Harness.cookiePath)])
        XCTAssertFalse(h.sent.contains { $0.hasPrefix("AUTHENTICATE") }, "no proof is sent to an impostor")
        XCTAssertEqual(h.reply(queued), .failure(.serverHashMismatch(cookiePath: Harness.cookiePath)))
        XCTAssertEqual(h.effects.last, .close)
        XCTAssertTrue(h.session.isClosed)
        XCTAssertTrue(ControlError.serverHashMismatch(cookiePath: "/x").message.contains("does not know the cookie"))
    }

    func testMalformedChallengeReplies() {
        let bad = [
            "250 AUTHCHALLENGE SERVERNONCE=" + Harness.safeCookieServerNonce,
            "250 AUTHCHALLENGE SERVERHASH=" + Harness.safeCookieServerHash,
            "250 AUTHCHALLENGE SERVERHASH=ABCD SERVERNONCE=" + Harness.safeCookieServerNonce,
            "250 AUTHCHALLENGE SERVERHASH=" + Harness.safeCookieServerHash + " SERVERNONCE=XYZ",
            "250 HELLO SERVERHASH=" + Harness.safeCookieServerHash + " SERVERNONCE=" + Harness.safeCookieServerNonce,
        ]
        for line in bad {
            var h = Harness()
            h.input(.connected)
            h.lines(Harness.protocolInfo(methods: "SAFECOOKIE"))
            h.input(.cookie(Harness.cookie))
            h.lines([line])
            guard case .protocolViolation? = h.failures.first else { return XCTFail(line) }
        }
        var h = Harness()
        h.input(.connected)
        h.lines(Harness.protocolInfo(methods: "SAFECOOKIE"))
        h.input(.cookie(Harness.cookie))
        h.lines(["513 Unrecognized authentication type"])
        XCTAssertEqual(h.failures, [.authenticationFailed(code: 513, text: "Unrecognized authentication type")])
    }

    func testAuthenticationMethodTable() {
        struct Case {
            var methods: String
            var password: String?
            var cookieFile: String?
            var expectCookieRead: Bool
            var expectedLine: String
            var method: ControlAuthMethod
        }
        let hexCookie = ControlSyntax.hex(Harness.cookie)
        let cases = [
            Case(methods: "COOKIE", cookieFile: Harness.cookiePath, expectCookieRead: true,
                 expectedLine: "AUTHENTICATE " + hexCookie, method: .cookie),
            Case(methods: "COOKIE,HASHEDPASSWORD", password: "pw", cookieFile: Harness.cookiePath,
                 expectCookieRead: true, expectedLine: "AUTHENTICATE " + hexCookie, method: .cookie),
            Case(methods: "HASHEDPASSWORD", password: "pa\"ss\\word", expectCookieRead: false,
                 expectedLine: #"AUTHENTICATE "pa\"ss\\word""#, method: .hashedPassword),
            // SAFECOOKIE offered but no cookie file named: fall back to the password.
            Case(methods: "SAFECOOKIE,HASHEDPASSWORD", password: "x", expectCookieRead: false,
                 expectedLine: #"AUTHENTICATE "x""#, method: .hashedPassword),
            Case(methods: "NULL", expectCookieRead: false, expectedLine: "AUTHENTICATE", method: .null),
            Case(methods: "null", expectCookieRead: false, expectedLine: "AUTHENTICATE", method: .null),
        ]
        for c in cases {
            var h = Harness(configuration: ControlConfiguration(password: c.password))
            h.input(.connected)
            h.lines(Harness.protocolInfo(methods: c.methods, cookieFile: c.cookieFile))
            if c.expectCookieRead {
                XCTAssertEqual(h.effects.last, .readCookie(path: Harness.cookiePath), c.methods)
                h.input(.cookie(Harness.cookie))
            }
            XCTAssertEqual(h.sent.last, c.expectedLine, c.methods)
            h.lines(["250 OK"])
            guard case .authenticated(let auth)? = h.effects.last else { return XCTFail(c.methods) }
            XCTAssertEqual(auth.method, c.method, c.methods)
        }
    }

    func testCookiePathOverride() {
        var h = Harness(configuration: ControlConfiguration(cookiePath: "/elsewhere/cookie"))
        h.input(.connected)
        h.lines(Harness.protocolInfo(methods: "COOKIE,SAFECOOKIE"))
        XCTAssertEqual(h.effects.last, .readCookie(path: "/elsewhere/cookie"))
    }

    func testAuthenticationFailures() {
        // 515 after COOKIE: Tor refuses and will close.
        var h = Harness()
        h.input(.connected)
        h.lines(Harness.protocolInfo(methods: "COOKIE"))
        h.input(.cookie(Harness.cookie))
        h.lines(["515 Authentication failed: Authentication cookie did not match expected value."])
        XCTAssertEqual(h.failures, [.authenticationFailed(
            code: 515, text: "Authentication failed: Authentication cookie did not match expected value.")])
        XCTAssertEqual(h.effects.last, .close)
        h.effects = []
        h.input(.closed)
        XCTAssertEqual(h.effects, [], "nothing after the session ended")

        // Only a password method, none configured.
        var p = Harness()
        p.input(.connected)
        p.lines(Harness.protocolInfo(methods: "HASHEDPASSWORD", cookieFile: nil))
        XCTAssertEqual(p.failures, [.noUsableAuthMethod(offered: ["HASHEDPASSWORD"])])
        XCTAssertTrue(p.failures[0].message.contains("configure the control password"))

        // Cookie of the wrong size, unreadable cookie.
        for (input, error) in [
            (ControlInput.cookie([1, 2, 3]), ControlError.invalidCookie(path: Harness.cookiePath, length: 3)),
            (.cookie([UInt8](repeating: 0, count: 33)), .invalidCookie(path: Harness.cookiePath, length: 33)),
            (.cookieUnreadable("no such file"), .cookieUnreadable(path: Harness.cookiePath, reason: "no such file")),
        ] {
            var c = Harness()
            c.input(.connected)
            c.lines(Harness.protocolInfo(methods: "SAFECOOKIE"))
            c.input(input)
            XCTAssertEqual(c.failures, [error])
        }

        // PROTOCOLINFO refused or malformed.
        for (lines, expected) in [
            (["514 Authentication required."], ControlError.rejected(code: 514, text: "Authentication required.")),
            (["250-PROTOCOLINFO 1", "250 OK"],
             .protocolViolation("PROTOCOLINFO reply without PROTOCOLINFO or AUTH line")),
            (["250-PROTOCOLINFO x", "250-AUTH METHODS=NULL", "250 OK"],
             .protocolViolation("PROTOCOLINFO without a version")),
            (["250-PROTOCOLINFO 1", "250-AUTH COOKIEFILE=\"/x\"", "250 OK"],
             .protocolViolation("PROTOCOLINFO AUTH without METHODS")),
        ] {
            var c = Harness()
            c.input(.connected)
            c.lines(lines)
            XCTAssertEqual(c.failures, [expected])
        }

        // A connection that never came up, or went away.
        var f = Harness()
        f.input(.connectFailed("127.0.0.1:9: refused"))
        XCTAssertEqual(f.failures, [.connectionFailed("127.0.0.1:9: refused")])
        var g = Harness()
        g.input(.connected)
        g.input(.closed)
        XCTAssertEqual(g.failures, [.connectionClosed])
    }

    func testUnknownProtocolInfoLinesAreSkipped() {
        var h = Harness()
        h.input(.connected)
        h.lines(["250-PROTOCOLINFO 1", "250-FUTURE thing=\"x\"",
                 #"250-AUTH METHODS=COOKIE,SAFECOOKIE,HASHEDPASSWORD COOKIEFILE="/run/tor/control.authcookie""#,
                 "250-VERSION Tor=\"0.4.9.11\" Extra=1", "250 OK"])
        XCTAssertEqual(h.effects.last, .readCookie(path: "/run/tor/control.authcookie"))
    }

    // MARK: - Commands

    func testCommandsQueuedBeforeAuthenticationAreSentAfterIt() {
        var h = Harness()
        let first = h.command(.setEvents(["HS_DESC"]))
        h.input(.connected)
        let second = h.command(.getInfo(["version"]))
        h.lines(Harness.protocolInfo(methods: "NULL", cookieFile: nil))
        XCTAssertEqual(h.sent, ["PROTOCOLINFO 1", "AUTHENTICATE"])
        h.lines(["250 OK"])
        XCTAssertEqual(h.sent, ["PROTOCOLINFO 1", "AUTHENTICATE", "SETEVENTS HS_DESC", "GETINFO version"])
        XCTAssertEqual(h.session.outstandingCommands, 2)
        h.lines(["250 OK", "250-version=0.4.9.11", "250 OK"])
        XCTAssertEqual(h.reply(first), .success(.done))
        XCTAssertEqual(h.reply(second), .success(.info(["version": "0.4.9.11"])))
        XCTAssertEqual(h.session.outstandingCommands, 0)
    }

    func testGetInfoReplies() throws {
        var h = Harness.authenticated()
        let id = h.command(.getInfo(["version", "status/bootstrap-phase", "net/listeners/socks", "config-text"]))
        XCTAssertEqual(h.sent, ["GETINFO version status/bootstrap-phase net/listeners/socks config-text"])
        h.lines([
            "250-version=0.4.9.11",
            #"250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=0 TAG=starting SUMMARY="Starting""#,
            #"250-net/listeners/socks="127.0.0.1:9050" "[::1]:9050""#,
            "250+config-text=",
            "ControlPort 127.0.0.1:9051",
            "DisableNetwork 1",
            ".",
            "250 OK",
        ])
        guard case .success(.info(let values))? = h.reply(id) else { return XCTFail("\(h.effects)") }
        XCTAssertEqual(values["version"], "0.4.9.11")
        XCTAssertEqual(try ControlBootstrapPhase(parsing: values["status/bootstrap-phase"] ?? "").tag, "starting")
        XCTAssertEqual(try ControlSyntax.quotedList(values["net/listeners/socks"] ?? ""),
                       ["127.0.0.1:9050", "[::1]:9050"])
        XCTAssertEqual(values["config-text"], "ControlPort 127.0.0.1:9051\nDisableNetwork 1")

        // 552 for an unknown key: a refusal, and the session goes on.
        let bad = h.command(.getInfo(["nope"]))
        h.lines([#"552 Unrecognized key "nope""#])
        XCTAssertEqual(h.reply(bad), .failure(.rejected(code: 552, text: #"Unrecognized key "nope""#)))
        XCTAssertTrue(h.session.isAuthenticated)

        // A success reply without the key asked for is a violation.
        let missing = h.command(.getInfo(["version"]))
        h.lines(["250-other=1", "250 OK"])
        XCTAssertEqual(h.reply(missing), .failure(.protocolViolation("the GETINFO reply lacks version")))
        XCTAssertTrue(h.session.isClosed)
    }

    func testEventsBetweenReplyLinesAreNotTakenForTheReply() {
        var h = Harness.authenticated()
        let id = h.command(.getInfo(["version", "status/bootstrap-phase"]))
        let uploaded = "650 HS_DESC UPLOADED " + Self.serviceID + " UNKNOWN $" + Self.hsdirA + "~relayA"
        h.lines([
            "650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY=\"Done\"",
            "250-version=0.4.9.11",
            uploaded,
            "250-status/bootstrap-phase=NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY=\"Done\"",
            "650 SIGNAL NEWNYM",
            "250 OK",
        ])
        guard case .success(.info(let values))? = h.reply(id) else { return XCTFail("\(h.effects)") }
        XCTAssertEqual(values.count, 2)
        XCTAssertEqual(h.events.count, 3)
        guard case .status(let status) = h.events[0] else { return XCTFail() }
        XCTAssertEqual(status.bootstrapPhase?.progress, 100)
        guard case .hsDescriptor(let hs) = h.events[1] else { return XCTFail() }
        XCTAssertEqual(hs.action, .uploaded)
        XCTAssertEqual(h.events[2], .other(keyword: "SIGNAL",
                                           reply: ControlReply(code: 650, lines: [.init(text: "SIGNAL NEWNYM")])))
        // An event alone, with no command outstanding, is fine too.
        h.effects = []
        h.lines([uploaded])
        XCTAssertEqual(h.events.count, 1)
        XCTAssertEqual(h.failures, [])
    }

    func testAddOnionAndDelOnion() {
        var h = Harness.authenticated()
        let key = "ED25519-V3:" + String(repeating: "A", count: 86) + "=="
        let add = h.command(.addOnion(ControlOnionRequest(
            key: .existing(key), ports: [ControlOnionPort(virtualPort: 25, target: "127.0.0.1:2525")])))
        XCTAssertEqual(h.sent.last, "ADD_ONION " + key + " Port=25,127.0.0.1:2525")
        h.lines(["250-ServiceID=" + Self.serviceID, "250 OK"])
        XCTAssertEqual(h.reply(add), .success(.onion(ControlOnionService(serviceID: Self.serviceID))))

        let new = h.command(.addOnion(ControlOnionRequest(
            key: .new("ED25519-V3"), ports: [ControlOnionPort(virtualPort: 25, target: "127.0.0.1:2525")],
            flags: ["Detach", "DiscardPK"])))
        XCTAssertEqual(h.sent.last, "ADD_ONION NEW:ED25519-V3 Flags=Detach,DiscardPK Port=25,127.0.0.1:2525")
        h.lines(["250-ServiceID=" + Self.serviceID, "250-PrivateKey=" + key, "250 OK"])
        XCTAssertEqual(h.reply(new), .success(.onion(ControlOnionService(serviceID: Self.serviceID,
                                                                          privateKey: key))))
        XCTAssertEqual(ControlOnionService(serviceID: Self.serviceID).hostname, Self.serviceID + ".onion")

        let collision = h.command(.addOnion(ControlOnionRequest(
            key: .existing(key), ports: [ControlOnionPort(virtualPort: 25, target: "127.0.0.1:2525")])))
        h.lines(["550 Onion address collision"])
        XCTAssertEqual(h.reply(collision), .failure(.rejected(code: 550, text: "Onion address collision")))

        let del = h.command(.delOnion(serviceID: Self.serviceID))
        XCTAssertEqual(h.sent.last, "DEL_ONION " + Self.serviceID)
        h.lines(["250 OK"])
        XCTAssertEqual(h.reply(del), .success(.done))
        let delAgain = h.command(.delOnion(serviceID: Self.serviceID))
        h.lines(["552 Unknown Onion Service id"])
        XCTAssertEqual(h.reply(delAgain), .failure(.rejected(code: 552, text: "Unknown Onion Service id")))

        for bad in [["250-ServiceID=tooshort", "250 OK"], ["250 OK"],
                    ["250-ServiceID=" + Self.serviceID.uppercased(), "250 OK"]] {
            var b = Harness.authenticated()
            let id = b.command(.addOnion(ControlOnionRequest(
                key: .existing(key), ports: [ControlOnionPort(virtualPort: 25, target: "127.0.0.1:1")])))
            b.lines(bad)
            XCTAssertEqual(b.reply(id), .failure(.protocolViolation("the ADD_ONION reply has no valid v3 ServiceID")))
            XCTAssertTrue(b.session.isClosed)
        }
    }

    func testOtherCommandLines() {
        let cases: [(ControlCommand, String)] = [
            (.setEvents(["HS_DESC", "STATUS_CLIENT"]), "SETEVENTS HS_DESC STATUS_CLIENT"),
            (.setEvents([]), "SETEVENTS"),
            (.signal("SHUTDOWN"), "SIGNAL SHUTDOWN"),
            (.takeOwnership, "TAKEOWNERSHIP"),
            (.resetConf(["__OwningControllerProcess"]), "RESETCONF __OwningControllerProcess"),
            (.getInfo(["net/listeners/socks"]), "GETINFO net/listeners/socks"),
        ]
        for (command, line) in cases {
            XCTAssertEqual(try command.line().get(), line)
            var h = Harness.authenticated()
            let id = h.command(command)
            XCTAssertEqual(h.sent, [line])
            h.lines(["250 OK"])
            if case .getInfo = command { continue }
            XCTAssertEqual(h.reply(id), .success(.done))
        }
    }

    func testArgumentsThatWouldInjectALineAreRefused() {
        let port = [ControlOnionPort(virtualPort: 25, target: "127.0.0.1:2525")]
        let bad: [ControlCommand] = [
            .getInfo([]), .getInfo(["version\r\nSIGNAL SHUTDOWN"]), .getInfo(["a b"]), .getInfo(["\"q\""]),
            .delOnion(serviceID: Self.serviceID + "\r\nSIGNAL HALT"), .delOnion(serviceID: "short"),
            .setEvents(["HS_DESC\nSIGNAL"]), .setEvents([""]),
            .signal("NEWNYM SHUTDOWN"), .signal(""),
            .resetConf([]), .resetConf(["A=B"]),
            .addOnion(ControlOnionRequest(key: .existing("ED25519-V3:abc\r\nSIGNAL HALT"), ports: port)),
            .addOnion(ControlOnionRequest(key: .existing("no-colon"), ports: port)),
            .addOnion(ControlOnionRequest(key: .existing("ED25519-V3:"), ports: port)),
            .addOnion(ControlOnionRequest(key: .existing("NEW:BEST"), ports: port)),
            .addOnion(ControlOnionRequest(key: .new("BEST X"), ports: port)),
            .addOnion(ControlOnionRequest(key: .new("BEST"), ports: [])),
            .addOnion(ControlOnionRequest(key: .new("BEST"), ports: [ControlOnionPort(virtualPort: 0, target: "1.2.3.4:1")])),
            .addOnion(ControlOnionRequest(key: .new("BEST"), ports: [ControlOnionPort(virtualPort: 25, target: "1.2.3.4:1 Port=80")])),
            .addOnion(ControlOnionRequest(key: .new("BEST"), ports: [ControlOnionPort(virtualPort: 25, target: "1.2.3.4:1,x")])),
            .addOnion(ControlOnionRequest(key: .new("BEST"), ports: port, flags: ["Detach\r\n"])),
        ]
        for command in bad {
            var h = Harness.authenticated()
            let id = h.command(command)
            XCTAssertEqual(h.sent, [], "\(command)")
            guard case .failure(.invalidArgument(let why))? = h.reply(id) else { return XCTFail("\(command)") }
            XCTAssertFalse(why.contains("abc"), "errors never quote the key")
            XCTAssertTrue(h.session.isAuthenticated, "a refused argument does not end the session")
        }
    }

    func testRepliesWithNothingOutstandingAndGarbage() {
        var h = Harness.authenticated()
        h.lines(["250 OK"])
        XCTAssertEqual(h.failures, [.protocolViolation("a reply (250) with no command outstanding")])

        var g = Harness.authenticated()
        let id = g.command(.getInfo(["version"]))
        g.lines(["HTTP/1.0 501 Tor is not an HTTP Proxy"])
        guard case .failure(.protocolViolation)? = g.reply(id) else { return XCTFail("\(g.effects)") }
        XCTAssertEqual(g.effects.last, .close)

        // Before anything was sent.
        var e = Harness()
        e.lines(["250 OK"])
        XCTAssertEqual(e.failures, [.protocolViolation("a reply (250) when no command was sent")])

        // Malformed typed events end the session as well.
        var m = Harness.authenticated()
        m.lines(["650 HS_DESC UPLOADED"])
        guard case .protocolViolation? = m.failures.first else { return XCTFail("\(m.effects)") }
    }

    func testClosedSessionAnswersEveryCommand() {
        var h = Harness.authenticated()
        let a = h.command(.getInfo(["version"]))
        let b = h.command(.takeOwnership)
        h.input(.closed)
        XCTAssertEqual(h.reply(a), .failure(.connectionClosed))
        XCTAssertEqual(h.reply(b), .failure(.connectionClosed))
        XCTAssertEqual(h.failures, [.connectionClosed])
        h.effects = []
        let c = h.command(.takeOwnership)
        XCTAssertEqual(h.effects, [.reply(c, .failure(.connectionClosed))])
        h.effects = []
        h.lines(["250 OK"])
        h.input(.connected)
        XCTAssertEqual(h.effects, [])
    }

    // MARK: - HS_DESC

    static let serviceID = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd"
    static let hsdirA = "B1F2A3C4D5E6F708192A3B4C5D6E7F8091A2B3C4"
    static let hsdirB = "0123456789ABCDEF0123456789ABCDEF01234567"

    func testHSDescriptorEventsTable() throws {
        let id = Self.serviceID
        let cases: [(String, ControlHSDescriptorEvent)] = [
            ("HS_DESC CREATED " + id + " UNKNOWN UNKNOWN kYV1qkRYCrF0cINg0y2DnIeU9fOr2jGpJ0o1Fl4q6Q8",
             .init(action: .created, address: id, authType: "UNKNOWN", hsDirectory: nil, hsDirectoryFingerprint: nil,
                   descriptorID: "kYV1qkRYCrF0cINg0y2DnIeU9fOr2jGpJ0o1Fl4q6Q8")),
            ("HS_DESC UPLOAD " + id + " UNKNOWN $" + Self.hsdirA + "~relayA kYV1qkRYCrF0cINg0y2DnIeU9fOr2jGpJ0o1Fl4q6Q8"
             + " HSDIR_INDEX=0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9",
             .init(action: .upload, address: id, authType: "UNKNOWN", hsDirectory: "$" + Self.hsdirA + "~relayA",
                   hsDirectoryFingerprint: Self.hsdirA, descriptorID: "kYV1qkRYCrF0cINg0y2DnIeU9fOr2jGpJ0o1Fl4q6Q8",
                   hsDirectoryIndex: "0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9")),
            ("HS_DESC UPLOADED " + id + " UNKNOWN $" + Self.hsdirA + "~relayA",
             .init(action: .uploaded, address: id, authType: "UNKNOWN", hsDirectory: "$" + Self.hsdirA + "~relayA",
                   hsDirectoryFingerprint: Self.hsdirA)),
            ("HS_DESC FAILED " + id + " UNKNOWN $" + Self.hsdirB.lowercased() + "~relayB REASON=UPLOAD_REJECTED",
             .init(action: .failed, address: id, authType: "UNKNOWN",
                   hsDirectory: "$" + Self.hsdirB.lowercased() + "~relayB", hsDirectoryFingerprint: Self.hsdirB,
                   reason: "UPLOAD_REJECTED")),
            ("HS_DESC REQUESTED " + id + " NO_AUTH $" + Self.hsdirB + "~relayB descB64= HSDIR_INDEX=00",
             .init(action: .requested, address: id, authType: "NO_AUTH", hsDirectory: "$" + Self.hsdirB + "~relayB",
                   hsDirectoryFingerprint: Self.hsdirB, descriptorID: "descB64=", hsDirectoryIndex: "00")),
            ("HS_DESC RECEIVED " + id + " NO_AUTH $" + Self.hsdirB + "=oldname desc",
             .init(action: .received, address: id, authType: "NO_AUTH", hsDirectory: "$" + Self.hsdirB + "=oldname",
                   hsDirectoryFingerprint: Self.hsdirB, descriptorID: "desc")),
            ("HS_DESC FAILED UNKNOWN NO_AUTH UNKNOWN desc REASON=NOT_FOUND REPLICA=1 FUTURE=x",
             .init(action: .failed, address: nil, authType: "NO_AUTH", hsDirectory: nil, hsDirectoryFingerprint: nil,
                   descriptorID: "desc", reason: "NOT_FOUND", replica: 1)),
            ("HS_DESC SOMETHING " + id + " UNKNOWN nickonly",
             .init(action: .other("SOMETHING"), address: id, authType: "UNKNOWN", hsDirectory: "nickonly",
                   hsDirectoryFingerprint: nil)),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try ControlHSDescriptorEvent(parsing: text), expected, text)
            XCTAssertEqual(try ControlEvent(parsing: ControlReply(code: 650, lines: [.init(text: text)])),
                           .hsDescriptor(expected))
        }
        let bad = [
            "HS_DESC UPLOADED " + id + " UNKNOWN",  // too few fields
            "HS_DESC UPLOADED notanonion UNKNOWN $" + Self.hsdirA,
            "HS_DESC UPLOADED " + id + " UNKNOWN $" + Self.hsdirA + " REPLICA=x",
            "HS_DESC UPLOADED " + id + " UNKNOWN $" + Self.hsdirA + " REASON=\"open",
        ]
        for text in bad {
            XCTAssertThrowsError(try ControlHSDescriptorEvent(parsing: text), text)
        }
    }

    func testUploadTrackerWaitsForEveryLaunchedUpload() throws {
        func event(_ action: String, _ dir: String, service: String = ControlSessionTests.serviceID,
                   extra: String = "") throws -> ControlHSDescriptorEvent {
            try ControlHSDescriptorEvent(parsing: "HS_DESC " + action + " " + service + " UNKNOWN $" + dir + "~n" + extra)
        }
        let other = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        var t = ControlUploadTracker(serviceID: Self.serviceID + ".onion")
        XCTAssertEqual(t.serviceID, Self.serviceID)
        t.observe(try event("UPLOAD", Self.hsdirA, extra: " descA"))
        t.observe(try event("UPLOAD", Self.hsdirB, extra: " descA"))
        t.observe(try event("UPLOAD", Self.hsdirA, extra: " descB"))  // next period's descriptor, same HSDir
        XCTAssertEqual(t.pendingCount, 3)
        t.observe(try event("UPLOADED", Self.hsdirA))
        XCTAssertFalse(t.isComplete, "one accepted, two still out")
        t.observe(try event("UPLOADED", Self.hsdirA, service: other))  // another service
        t.observe(try event("FAILED", Self.hsdirB, extra: " REASON=UPLOAD_REJECTED"))
        XCTAssertFalse(t.isComplete)
        XCTAssertEqual(t.failed, 1)
        t.observe(try event("UPLOADED", Self.hsdirA))
        XCTAssertTrue(t.isComplete)
        XCTAssertEqual(t.uploaded, 2)
        XCTAssertEqual(t.pendingCount, 0)

        // All failed: not complete (Tor retries); a FAILED with no upload
        // pending there (a fetch of our own address) is not counted.
        var f = ControlUploadTracker(serviceID: Self.serviceID)
        f.observe(try event("UPLOAD", Self.hsdirA, extra: " d"))
        f.observe(try event("FAILED", Self.hsdirA, extra: " REASON=UPLOAD_REJECTED"))
        f.observe(try event("FAILED", Self.hsdirB, extra: " d REASON=NOT_FOUND"))
        XCTAssertFalse(f.isComplete)
        XCTAssertEqual(f.failed, 1)
        // An UPLOADED for an upload launched before we watched still counts.
        var late = ControlUploadTracker(serviceID: Self.serviceID)
        late.observe(try event("UPLOADED", Self.hsdirB))
        XCTAssertTrue(late.isComplete)
    }

    func testErrorMessagesAreOneCleanLine() {
        let errors: [ControlError] = [
            .rejected(code: 552, text: "bad\r\nforged log line"), .authenticationFailed(code: 515, text: "x"),
            .serverHashMismatch(cookiePath: "/c"), .invalidCookie(path: "/c", length: 3),
            .cookieUnreadable(path: "/c", reason: "r"), .noUsableAuthMethod(offered: ["X"]),
            .protocolViolation("p"), .lineTooLong(limit: 1), .replyTooLarge(limit: 1), .invalidArgument("a"),
            .cryptoFailure, .connectionFailed("c"), .connectionClosed, .notConnected,
        ]
        for error in errors {
            XCTAssertFalse(error.message.isEmpty)
            XCTAssertFalse(error.message.contains("\n") || error.message.contains("\r"), error.message)
        }
    }
}
