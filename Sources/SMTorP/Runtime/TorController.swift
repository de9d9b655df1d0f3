// TorController.swift: the thin adapter between the C core's connections and
// the pure ControlSession state machine. It connects to Tor's control port
// (a numeric host and port, cleartext TCP), frames lines, feeds the session,
// carries out its effects (write, read the cookie file, close) and turns its
// answers into completion callbacks. It decides nothing itself.
//
// Everything here runs on the event loop's thread: call it from there, and
// completions run there.
//
// Untrusted input: every byte from the control port, passed through
// unexamined to the session; the cookie file, read when the session asks.
// Secrets: the cookie and the ADD_ONION key pass through `.send` effects,
// which are written and never logged.
// Spec: Tor control-spec.txt (see ControlSession.swift).
import SMTorPCore

/// SAFECOOKIE's HMAC-SHA256 and constant-time comparison from the C core.
public struct CoreControlCrypto: ControlCrypto {
    /// Creates the value.
    public init() {}

    /// `smtorp_hmac_sha256`; nil when the C core reports a failure.
    public func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 32)
        guard smtorp_hmac_sha256(key, key.count, message, message.count, &out) == SMTORP_OK else { return nil }
        return out
    }

    /// `smtorp_constant_time_equal` (false for different lengths).
    public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count == b.count && smtorp_constant_time_equal(a, b, a.count) == 1
    }
}

/// A client of Tor's control port, driven by the event loop.
///
/// Call `authenticate` first; commands given before it completes are sent
/// once authenticated. Every completion is called exactly once: with the
/// answer, with Tor's refusal, or with the error that ended the connection.
public final class TorController {
    /// A completion callback.
    public typealias Completion<Value> = (Result<Value, ControlError>) -> Void

    /// The control port's numeric address.
    public let host: String
    /// The control port.
    public let port: UInt16
    /// Called for every asynchronous event (after SETEVENTS).
    public var onEvent: ((ControlEvent) -> Void)?
    /// Called once when an authenticated connection ends other than by
    /// `close()` (Tor exited, a protocol violation).
    public var onFailure: ((ControlError) -> Void)?
    /// How authentication went, once it succeeded.
    public private(set) var authentication: ControlAuthentication?
    /// The error that ended the session, if it ended.
    public private(set) var failure: ControlError?

    /// Most bytes read from a cookie file: a cookie is 32 bytes; a longer
    /// file is read far enough to report its wrong size.
    static let cookieReadLimit = 64

    let loop: EventLoop
    let configuration: ControlConfiguration
    let logger: Logger
    var raw: OpaquePointer?
    var connected = false
    var closedByOwner = false
    var session: ControlSession<CoreControlCrypto>?
    /// Effects not yet carried out, in order. Completions may give new
    /// commands; their effects queue behind the ones already returned, so
    /// that bytes go out in the order the session decided.
    var pendingEffects: [ControlEffect] = []
    var draining = false
    var nextCommandID: UInt64 = 1
    var completions: [ControlCommandID: Completion<ControlResponse>] = [:]
    var authenticationCompletion: Completion<ControlAuthentication>?
    var uploadWaits: [UploadWait] = []

    /// A `waitForUpload` in progress.
    struct UploadWait {
        var tracker: ControlUploadTracker
        let completion: Completion<ControlUploadTracker>
    }

    /// Creates a controller for the control port at `host` (numeric IPv4 or
    /// IPv6) and `port`. Nothing happens until `authenticate`.
    public init(loop: EventLoop, host: String, port: UInt16,
                configuration: ControlConfiguration = ControlConfiguration(), logger: Logger = Logger()) {
        self.loop = loop
        self.host = host
        self.port = port
        self.configuration = configuration
        self.logger = logger
    }

    deinit {
        if let raw { smtorp_conn_close(raw) }
    }

    /// `host:port`, for messages.
    public var endpoint: String { host + ":" + String(port) }

    /// Whether authentication succeeded and the connection is open.
    public var isAuthenticated: Bool { session?.isAuthenticated ?? false }

    // MARK: - Commands

    /// Connects and authenticates (SAFECOOKIE preferred; see ControlSession).
    public func authenticate(_ completion: @escaping Completion<ControlAuthentication>) {
        guard session == nil else {
            completion(.failure(.invalidArgument("authenticate was already called on this controller")))
            return
        }
        var nonce = [UInt8](repeating: 0, count: ControlSession<CoreControlCrypto>.clientNonceLength)
        guard smtorp_random_bytes(&nonce, nonce.count) == SMTORP_OK else {
            completion(.failure(.cryptoFailure))
            return
        }
        session = ControlSession(configuration: configuration, clientNonce: nonce, crypto: CoreControlCrypto())
        authenticationCompletion = completion
        var conn: OpaquePointer? = nil
        let result = smtorp_conn_connect(loop.raw, host, port, nil, nil, Self.callbacks,
                                         Unmanaged.passUnretained(self).toOpaque(), &conn)
        guard result == SMTORP_OK, let conn else {
            feed(.connectFailed(endpoint + ": " + CoreError(result).message))
            return
        }
        raw = conn
        smtorp_conn_expect_lines(conn, configuration.limits.lineLength)
        logger.debug("tor control: connecting to " + endpoint)
    }

    /// Sends any command; the typed helpers below are built on this.
    public func send(_ command: ControlCommand, completion: @escaping Completion<ControlResponse>) {
        guard let session else {
            completion(.failure(.notConnected))
            return
        }
        if session.isClosed {
            // Answer with what ended the session (a refused cookie, Tor gone).
            completion(.failure(failure ?? .connectionClosed))
            return
        }
        let id = ControlCommandID(nextCommandID)
        nextCommandID += 1
        completions[id] = completion
        feed(.command(id, command))
    }

    /// GETINFO: the value of each key (e.g. "version",
    /// "status/bootstrap-phase", "net/listeners/socks"; see
    /// `ControlBootstrapPhase(parsing:)` and `ControlSyntax.quotedList`).
    public func getInfo(_ keys: [String], completion: @escaping Completion<[String: String]>) {
        send(.getInfo(keys)) { result in
            switch result {
            case .success(.info(let values)): completion(.success(values))
            case .success: completion(.failure(.protocolViolation("GETINFO answered with another response")))
            case .failure(let error): completion(.failure(error))
            }
        }
    }

    /// GETINFO version: Tor's version, e.g. "0.4.9.11".
    public func version(completion: @escaping Completion<String>) {
        info("version", completion: completion) { .success($0) }
    }

    /// GETINFO status/bootstrap-phase, parsed.
    public func bootstrapPhase(completion: @escaping Completion<ControlBootstrapPhase>) {
        info("status/bootstrap-phase", completion: completion) { (text: String) -> Result<ControlBootstrapPhase, ControlError> in
            do throws(ControlError) {
                return .success(try ControlBootstrapPhase(parsing: text))
            } catch {
                return .failure(error)
            }
        }
    }

    /// GETINFO net/listeners/socks: the SOCKS listeners' addresses, e.g.
    /// ["127.0.0.1:9050"] (empty with SocksPort 0).
    public func socksListeners(completion: @escaping Completion<[String]>) {
        info("net/listeners/socks", completion: completion) { (text: String) -> Result<[String], ControlError> in
            do throws(ControlError) {
                return .success(try ControlSyntax.quotedList(text))
            } catch {
                return .failure(error)
            }
        }
    }

    /// GETINFO of one key, its value turned into `Value` by `parse`.
    private func info<Value>(_ key: String, completion: @escaping Completion<Value>,
                             parse: @escaping (String) -> Result<Value, ControlError>) {
        getInfo([key]) { result in
            switch result {
            case .success(let values):
                guard let text = values[key] else {
                    completion(.failure(.protocolViolation("the GETINFO reply lacks " + key)))
                    return
                }
                completion(parse(text))
            case .failure(let error):
                completion(.failure(error))
            }
        }
    }

    /// ADD_ONION with an existing key (`NodeIdentity.torPrivateKeyBlob()`):
    /// `Port=<virtualPort>,<target>`. Completes with the ServiceID Tor
    /// publishes.
    public func addOnion(keyBlob: String, virtualPort: UInt16, target: String, flags: [String] = [],
                         completion: @escaping Completion<ControlOnionService>) {
        let request = ControlOnionRequest(key: .existing(keyBlob),
                                          ports: [ControlOnionPort(virtualPort: virtualPort, target: target)],
                                          flags: flags)
        send(.addOnion(request)) { result in
            switch result {
            case .success(.onion(let service)): completion(.success(service))
            case .success: completion(.failure(.protocolViolation("ADD_ONION answered with another response")))
            case .failure(let error): completion(.failure(error))
            }
        }
    }

    /// DEL_ONION: stops publishing the service.
    public func delOnion(serviceID: String, completion: @escaping Completion<Void>) {
        send(.delOnion(serviceID: serviceID)) { completion($0.map { _ in () }) }
    }

    /// SETEVENTS: the events to receive through `onEvent` (replaces the
    /// previous set; `waitForUpload` needs "HS_DESC").
    public func setEvents(_ names: [String], completion: @escaping Completion<Void>) {
        send(.setEvents(names)) { completion($0.map { _ in () }) }
    }

    /// SIGNAL, e.g. "SHUTDOWN".
    public func signal(_ name: String, completion: @escaping Completion<Void>) {
        send(.signal(name)) { completion($0.map { _ in () }) }
    }

    /// TAKEOWNERSHIP: Tor exits when this connection closes.
    public func takeOwnership(completion: @escaping Completion<Void>) {
        send(.takeOwnership) { completion($0.map { _ in () }) }
    }

    /// RESETCONF, e.g. ["__OwningControllerProcess"] after TAKEOWNERSHIP of
    /// a Tor started by smtorp.
    public func resetConf(_ keys: [String], completion: @escaping Completion<Void>) {
        send(.resetConf(keys)) { completion($0.map { _ in () }) }
    }

    /// Completes once every descriptor upload Tor launched for `serviceID`
    /// has been answered and at least one HSDir accepted (see
    /// ControlUploadTracker). Needs HS_DESC events (`setEvents`), set before
    /// ADD_ONION. It has no deadline of its own: Tor retries failed uploads,
    /// so the caller decides how long to wait. Fails when the connection ends.
    public func waitForUpload(serviceID: String, completion: @escaping Completion<ControlUploadTracker>) {
        guard let session, !session.isClosed else {
            completion(.failure(failure ?? .notConnected))
            return
        }
        let tracker = ControlUploadTracker(serviceID: serviceID)
        guard ControlSyntax.isServiceID(tracker.serviceID) else {
            completion(.failure(.invalidArgument("waitForUpload needs a 56-character v3 service ID")))
            return
        }
        uploadWaits.append(UploadWait(tracker: tracker, completion: completion))
    }

    /// Closes the connection. Commands outstanding complete with
    /// `connectionClosed`; `onFailure` is not called.
    public func close() {
        closedByOwner = true
        feed(.closed)
        closeConnection()
    }

    // MARK: - Driving the session

    func feed(_ input: ControlInput) {
        guard let effects = session?.receive(input) else { return }
        pendingEffects.append(contentsOf: effects)
        drain()
    }

    func drain() {
        guard !draining else { return }
        draining = true
        while !pendingEffects.isEmpty {
            perform(pendingEffects.removeFirst())
        }
        draining = false
    }

    func perform(_ effect: ControlEffect) {
        switch effect {
        case .send(let bytes):
            guard let raw else { return }
            if smtorp_conn_write(raw, bytes, bytes.count) != SMTORP_OK {
                closeConnection()
                feed(.closed)
            }
        case .readCookie(let path):
            do {
                feed(.cookie(try DurableFile.read(path: path, maxLength: Self.cookieReadLimit)))
            } catch {
                feed(.cookieUnreadable(CoreError(smtorp_result(rawValue: error.code)).message))
            }
        case .authenticated(let result):
            authentication = result
            logger.debug("tor control: authenticated with " + result.method.name)
            let completion = authenticationCompletion
            authenticationCompletion = nil
            completion?(.success(result))
        case .reply(let id, let result):
            let completion = completions.removeValue(forKey: id)
            completion?(result)
        case .event(let event):
            if case .hsDescriptor(let descriptorEvent) = event { observe(descriptorEvent) }
            onEvent?(event)
        case .failed(let error):
            failure = error
            let waits = uploadWaits
            uploadWaits = []
            if let completion = authenticationCompletion {
                authenticationCompletion = nil
                completion(.failure(error))
            } else if !closedByOwner {
                logger.warning("tor control: " + error.message)
                onFailure?(error)
            }
            for wait in waits { wait.completion(.failure(error)) }
        case .close:
            closeConnection()
        }
    }

    func observe(_ event: ControlHSDescriptorEvent) {
        var finished: [UploadWait] = []
        var index = 0
        while index < uploadWaits.count {
            uploadWaits[index].tracker.observe(event)
            if uploadWaits[index].tracker.isComplete {
                finished.append(uploadWaits.remove(at: index))
            } else {
                index += 1
            }
        }
        for wait in finished { wait.completion(.success(wait.tracker)) }
    }

    func closeConnection() {
        guard let raw else { return }
        self.raw = nil
        smtorp_conn_close(raw)
    }

    // MARK: - C callbacks

    func handle(_ event: smtorp_conn_event) {
        switch event {
        case SMTORP_CONN_READY:
            connected = true
            feed(.connected)
        default:
            closeConnection()
            if connected {
                feed(.closed)
            } else {
                feed(.connectFailed(endpoint + ": connection refused or failed"))
            }
        }
    }

    /// The C callbacks, shared by every controller.
    /// Written once, read-only afterwards, used only on the loop thread.
    nonisolated(unsafe) static let callbacks: UnsafeMutablePointer<smtorp_conn_callbacks> = {
        let p = UnsafeMutablePointer<smtorp_conn_callbacks>.allocate(capacity: 1)
        p.initialize(to: smtorp_conn_callbacks(
            on_event: { _, event, arg in
                guard let arg else { return }
                TorController.from(arg).handle(event)
            },
            on_line: { _, line, length, arg in
                guard let arg else { return }
                let bytes = line.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
                TorController.from(arg).feed(.line(bytes))
            },
            on_line_too_long: { _, arg in
                guard let arg else { return }
                TorController.from(arg).feed(.lineTooLong)
            },
            on_chunk: { _, _, _, _, _ in
                // The controller never asks for byte counts.
            }))
        return p
    }()

    static func from(_ arg: UnsafeMutableRawPointer) -> TorController {
        Unmanaged<TorController>.fromOpaque(arg).takeUnretainedValue()
    }
}
