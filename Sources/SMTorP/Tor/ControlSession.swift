// ControlSession.swift: the client side of Tor's control protocol as a pure
// state machine. It authenticates (PROTOCOLINFO, then SAFECOOKIE, COOKIE,
// HASHEDPASSWORD or NULL), then sends commands in order and matches each
// reply to the oldest command outstanding; asynchronous events (650) are
// handed on separately, whenever they arrive. No I/O, no clock, no
// randomness: the adapter feeds it lines and the cookie file's bytes, and
// supplies the client nonce and HMAC-SHA256.
//
// Untrusted input: every line from the control port, and the cookie file's
// content. Malformed or unexpected replies, over-long lines and a SAFECOOKIE
// server hash that does not prove knowledge of the cookie end the session
// with a typed `ControlError`; nothing from the port can crash it.
// Secrets: the cookie, the password, the AUTHENTICATE proofs and the
// ADD_ONION key travel in `.send` effects only; nothing here logs them.
// Spec: Tor control-spec.txt §2 (protocol, replies), §3.5 (AUTHENTICATE),
// §3.21 (PROTOCOLINFO), §3.24 (AUTHCHALLENGE, SAFECOOKIE hashes), §4.1
// (events).

/// HMAC and comparison for SAFECOOKIE, supplied by the adapter (the C core's
/// `smtorp_hmac_sha256` and `smtorp_constant_time_equal`) so that the
/// session stays pure.
public protocol ControlCrypto {
    /// HMAC-SHA256 (RFC 2104) of `message` under `key`; nil when the
    /// primitive fails.
    func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8]?
    /// Whether `a` and `b` are equal, compared in constant time.
    func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool
}

/// How to authenticate, and the limits on what Tor sends.
public struct ControlConfiguration: Sendable {
    /// The control password, for HASHEDPASSWORD. Secret.
    public var password: String?
    /// The cookie file to use instead of the COOKIEFILE Tor names.
    public var cookiePath: String?
    /// The limits on replies and events.
    public var limits: ControlLimits

    /// Creates a configuration.
    public init(password: String? = nil, cookiePath: String? = nil, limits: ControlLimits = ControlLimits()) {
        self.password = password
        self.cookiePath = cookiePath
        self.limits = limits
    }
}

/// An input to the control session.
public enum ControlInput: Equatable, Sendable {
    /// The TCP connection to the control port is up: start authenticating.
    case connected
    /// The TCP connection could not be made.
    case connectFailed(String)
    /// One line from the control port WITHOUT its LF; a final CR is allowed.
    case line([UInt8])
    /// No LF came within `ControlLimits.lineLength` octets.
    case lineTooLong
    /// The bytes of the cookie file, answering `.readCookie`. Secret.
    case cookie([UInt8])
    /// The cookie file could not be read, answering `.readCookie`.
    case cookieUnreadable(String)
    /// A command to send once authenticated (at once if already).
    case command(ControlCommandID, ControlCommand)
    /// The connection ended.
    case closed
}

/// An effect the adapter carries out, in order.
public enum ControlEffect: Equatable, Sendable {
    /// Write these bytes (one command line with CRLF). May hold secrets:
    /// never log it.
    case send([UInt8])
    /// Read the cookie file at `path` and answer with `.cookie` or
    /// `.cookieUnreadable`.
    case readCookie(path: String)
    /// Authentication succeeded; queued commands follow.
    case authenticated(ControlAuthentication)
    /// The answer to a command: its typed response, or why it failed.
    case reply(ControlCommandID, Result<ControlResponse, ControlError>)
    /// An asynchronous event.
    case event(ControlEvent)
    /// The session ended with this error (every command outstanding was
    /// answered with it first).
    case failed(ControlError)
    /// Close the connection.
    case close
}

/// HMAC keys of SAFECOOKIE (control-spec §3.24).
private let safeCookieServerKey = Array("Tor safe cookie authentication server-to-controller hash".utf8)
private let safeCookieClientKey = Array("Tor safe cookie authentication controller-to-server hash".utf8)

/// The client side of one control-port connection.
///
/// Feed every input to `receive(_:)` and carry out the returned effects in
/// order. Commands may be given at any time; they are sent after
/// authentication, in order, and answered in order.
public struct ControlSession<Crypto: ControlCrypto> {
    /// How the cookie is used once read.
    private enum CookieUse: Equatable {
        case safeCookie
        case cookie
    }

    /// The session states, named for what each waits for.
    private enum State {
        case awaitingConnection
        case awaitingProtocolInfo
        case awaitingCookie(CookieUse, path: String, ControlProtocolInfo)
        case awaitingChallenge(cookie: [UInt8], path: String, ControlProtocolInfo)
        case awaitingAuthentication(ControlAuthMethod, ControlProtocolInfo)
        case ready
        case closed
    }

    /// A command with its rendered line.
    private struct PendingCommand {
        var id: ControlCommandID
        var command: ControlCommand
        var line: String
    }

    /// Length of the SAFECOOKIE client nonce and of the cookie, in bytes.
    public static var clientNonceLength: Int { 32 }
    /// Length of the cookie file, in bytes (control-spec §3.5).
    public static var cookieLength: Int { 32 }

    private let configuration: ControlConfiguration
    private let clientNonce: [UInt8]
    private let crypto: Crypto
    private var state: State = .awaitingConnection
    private var reader: ControlReplyReader
    /// Commands given before authentication finished.
    private var queued: [PendingCommand] = []
    /// Commands sent and not yet answered, oldest first.
    private var inFlight: [PendingCommand] = []

    /// Creates a session that waits for `.connected`. `clientNonce` is 32
    /// fresh random bytes (the SAFECOOKIE client nonce).
    public init(configuration: ControlConfiguration = ControlConfiguration(), clientNonce: [UInt8], crypto: Crypto) {
        precondition(clientNonce.count == Self.clientNonceLength, "the SAFECOOKIE client nonce is 32 bytes")
        self.configuration = configuration
        self.clientNonce = clientNonce
        self.crypto = crypto
        self.reader = ControlReplyReader(limits: configuration.limits)
    }

    /// Whether the session has ended; commands are then answered with
    /// `connectionClosed` and other inputs ignored.
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// Whether authentication succeeded and the session is open.
    public var isAuthenticated: Bool {
        if case .ready = state { return true }
        return false
    }

    /// Commands sent or queued and not yet answered.
    public var outstandingCommands: Int { queued.count + inFlight.count }

    /// Processes one input and returns the effects to carry out, in order.
    public mutating func receive(_ input: ControlInput) -> [ControlEffect] {
        var effects: [ControlEffect] = []
        handle(input, into: &effects)
        return effects
    }

    // MARK: - Dispatch

    private mutating func handle(_ input: ControlInput, into effects: inout [ControlEffect]) {
        if case .closed = state {
            if case .command(let id, _) = input { effects.append(.reply(id, .failure(.connectionClosed))) }
            return
        }
        switch input {
        case .connected:
            guard case .awaitingConnection = state else { return }
            state = .awaitingProtocolInfo
            send("PROTOCOLINFO 1", into: &effects)
        case .connectFailed(let reason):
            fail(.connectionFailed(reason), into: &effects)
        case .line(let line):
            let output: ControlReplyReader.Output?
            do {
                output = try reader.read(line)
            } catch {
                fail(error, into: &effects)
                return
            }
            switch output {
            case nil:
                return
            case .event(let reply)?:
                do {
                    effects.append(.event(try ControlEvent(parsing: reply)))
                } catch {
                    fail(error, into: &effects)
                }
            case .response(let reply)?:
                handleResponse(reply, into: &effects)
            }
        case .lineTooLong:
            fail(.lineTooLong(limit: configuration.limits.lineLength), into: &effects)
        case .cookie(let cookie):
            guard case .awaitingCookie(let use, let path, let info) = state else { return }
            guard cookie.count == Self.cookieLength else {
                fail(.invalidCookie(path: path, length: cookie.count), into: &effects)
                return
            }
            switch use {
            case .safeCookie:
                state = .awaitingChallenge(cookie: cookie, path: path, info)
                send("AUTHCHALLENGE SAFECOOKIE " + ControlSyntax.hex(clientNonce), into: &effects)
            case .cookie:
                state = .awaitingAuthentication(.cookie, info)
                send("AUTHENTICATE " + ControlSyntax.hex(cookie), into: &effects)
            }
        case .cookieUnreadable(let reason):
            guard case .awaitingCookie(_, let path, _) = state else { return }
            fail(.cookieUnreadable(path: path, reason: reason), into: &effects)
        case .command(let id, let command):
            switch command.line() {
            case .failure(let error):
                effects.append(.reply(id, .failure(error)))
            case .success(let line):
                let pending = PendingCommand(id: id, command: command, line: line)
                if case .ready = state {
                    inFlight.append(pending)
                    send(line, into: &effects)
                } else {
                    queued.append(pending)
                }
            }
        case .closed:
            if case .awaitingConnection = state {
                fail(.connectionFailed("the connection closed before it was established"), into: &effects)
            } else {
                fail(.connectionClosed, into: &effects)
            }
        }
    }

    private mutating func handleResponse(_ reply: ControlReply, into effects: inout [ControlEffect]) {
        switch state {
        case .awaitingProtocolInfo:
            guard reply.isSuccess else {
                fail(.rejected(code: reply.code, text: reply.endText), into: &effects)
                return
            }
            do {
                chooseMethod(try ControlProtocolInfo(parsing: reply), into: &effects)
            } catch {
                fail(error, into: &effects)
            }
        case .awaitingChallenge(let cookie, let path, let info):
            guard reply.isSuccess else {
                fail(.authenticationFailed(code: reply.code, text: reply.endText), into: &effects)
                return
            }
            answerChallenge(reply, cookie: cookie, path: path, info: info, into: &effects)
        case .awaitingAuthentication(let method, let info):
            guard reply.isSuccess else {
                fail(.authenticationFailed(code: reply.code, text: reply.endText), into: &effects)
                return
            }
            state = .ready
            effects.append(.authenticated(ControlAuthentication(method: method, protocolInfo: info)))
            let waiting = queued
            queued = []
            for pending in waiting {
                inFlight.append(pending)
                send(pending.line, into: &effects)
            }
        case .ready:
            guard !inFlight.isEmpty else {
                fail(.protocolViolation("a reply (" + String(reply.code) + ") with no command outstanding"),
                     into: &effects)
                return
            }
            let pending = inFlight.removeFirst()
            guard reply.isSuccess else {
                effects.append(.reply(pending.id, .failure(.rejected(code: reply.code, text: reply.endText))))
                return
            }
            do {
                effects.append(.reply(pending.id, .success(try Self.interpret(pending.command, reply))))
            } catch {
                // A success reply that does not say what the command calls
                // for: the conversation can no longer be trusted.
                effects.append(.reply(pending.id, .failure(error)))
                fail(error, into: &effects)
            }
        case .awaitingConnection, .awaitingCookie, .closed:
            fail(.protocolViolation("a reply (" + String(reply.code) + ") when no command was sent"), into: &effects)
        }
    }

    // MARK: - Authentication

    /// Picks the method: SAFECOOKIE, else COOKIE, else HASHEDPASSWORD when a
    /// password is configured, else NULL.
    private mutating func chooseMethod(_ info: ControlProtocolInfo, into effects: inout [ControlEffect]) {
        let methods = info.authMethods
        let cookiePath = configuration.cookiePath ?? info.cookieFile
        if methods.contains("SAFECOOKIE"), let cookiePath {
            state = .awaitingCookie(.safeCookie, path: cookiePath, info)
            effects.append(.readCookie(path: cookiePath))
        } else if methods.contains("COOKIE"), let cookiePath {
            state = .awaitingCookie(.cookie, path: cookiePath, info)
            effects.append(.readCookie(path: cookiePath))
        } else if methods.contains("HASHEDPASSWORD"), let password = configuration.password {
            state = .awaitingAuthentication(.hashedPassword, info)
            send("AUTHENTICATE " + ControlSyntax.quote(password), into: &effects)
        } else if methods.contains("NULL") {
            state = .awaitingAuthentication(.null, info)
            send("AUTHENTICATE", into: &effects)
        } else {
            fail(.noUsableAuthMethod(offered: methods), into: &effects)
        }
    }

    /// Checks Tor's SERVERHASH and answers with the client hash:
    ///
    ///     message    = cookie | client nonce | server nonce
    ///     SERVERHASH = HMAC-SHA256(server-to-controller key, message)
    ///     AUTHENTICATE HMAC-SHA256(controller-to-server key, message)
    ///
    /// A wrong SERVERHASH means the other end does not know the cookie: the
    /// session refuses to authenticate rather than prove its own knowledge.
    private mutating func answerChallenge(_ reply: ControlReply, cookie: [UInt8], path: String,
                                          info: ControlProtocolInfo, into effects: inout [ControlEffect]) {
        let arguments: [String: String]
        do throws(ControlError) {
            let tokens = try ControlSyntax.tokens(reply.firstText)
            guard tokens.first == "AUTHCHALLENGE" else {
                throw ControlError.protocolViolation("the AUTHCHALLENGE reply does not start with AUTHCHALLENGE")
            }
            arguments = try ControlSyntax.keywordArguments(tokens.dropFirst())
        } catch {
            fail(error, into: &effects)
            return
        }
        guard let serverHash = arguments["SERVERHASH"].flatMap(ControlSyntax.unhex), serverHash.count == 32,
              let serverNonce = arguments["SERVERNONCE"].flatMap(ControlSyntax.unhex), serverNonce.count == 32
        else {
            fail(.protocolViolation("AUTHCHALLENGE reply without a 32-byte SERVERHASH and SERVERNONCE"),
                 into: &effects)
            return
        }
        let message = cookie + clientNonce + serverNonce
        guard let expected = crypto.hmacSHA256(key: safeCookieServerKey, message: message), expected.count == 32,
              let proof = crypto.hmacSHA256(key: safeCookieClientKey, message: message), proof.count == 32
        else {
            fail(.cryptoFailure, into: &effects)
            return
        }
        guard crypto.constantTimeEqual(expected, serverHash) else {
            fail(.serverHashMismatch(cookiePath: path), into: &effects)
            return
        }
        state = .awaitingAuthentication(.safeCookie, info)
        send("AUTHENTICATE " + ControlSyntax.hex(proof), into: &effects)
    }

    // MARK: - Replies to commands

    /// The typed response to a successful reply.
    private static func interpret(_ command: ControlCommand, _ reply: ControlReply) throws(ControlError)
        -> ControlResponse {
        switch command {
        case .getInfo(let keys):
            var values: [String: String] = [:]
            for (index, line) in reply.lines.enumerated() {
                if index == reply.lines.count - 1 && line.text == "OK" && line.data == nil { break }
                let bytes = Array(line.text.utf8)
                guard let eq = bytes.firstIndex(of: UInt8(ascii: "=")), eq > 0 else {
                    throw .protocolViolation("a GETINFO reply line is not key=value")
                }
                let key = String(decoding: bytes[..<eq], as: UTF8.self)
                values[key] = line.data ?? String(decoding: bytes[(eq + 1)...], as: UTF8.self)
            }
            for key in keys where values[key] == nil {
                throw .protocolViolation("the GETINFO reply lacks " + key)
            }
            return .info(values)
        case .addOnion:
            var serviceID: String?
            var privateKey: String?
            for line in reply.lines.dropLast() {
                guard let (key, value) = try ControlSyntax.keywordArgument(line.text) else { continue }
                switch key {
                case "ServiceID": serviceID = value
                case "PrivateKey": privateKey = value
                default: continue  // ClientAuth lines and later additions
                }
            }
            guard let serviceID, ControlSyntax.isServiceID(serviceID) else {
                throw .protocolViolation("the ADD_ONION reply has no valid v3 ServiceID")
            }
            return .onion(ControlOnionService(serviceID: serviceID, privateKey: privateKey))
        case .delOnion, .setEvents, .signal, .takeOwnership, .resetConf:
            return .done
        }
    }

    // MARK: - Helpers

    private func send(_ line: String, into effects: inout [ControlEffect]) {
        effects.append(.send(Array(line.utf8) + [0x0D, 0x0A]))
    }

    /// Ends the session: every command outstanding is answered with `error`,
    /// then `.failed` and `.close`.
    private mutating func fail(_ error: ControlError, into effects: inout [ControlEffect]) {
        for pending in inFlight + queued {
            effects.append(.reply(pending.id, .failure(error)))
        }
        inFlight = []
        queued = []
        state = .closed
        effects.append(.failed(error))
        effects.append(.close)
    }
}
