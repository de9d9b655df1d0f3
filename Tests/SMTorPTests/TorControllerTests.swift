// TorControllerTests.swift: the control-port adapter against a REAL tor
// (Debian's 0.4.9.x), on a real EventLoop. Each test starts its own tor with
// DisableNetwork (nothing leaves the machine), CookieAuthentication and a
// loopback ControlPort, waits for the port to accept (polling with a
// deadline, no blind sleeps), and stops tor at the end (SIGTERM, then
// SIGKILL after a deadline). Every wait on the loop has a deadline timer of
// the C core that fails the test instead of hanging it.
import Foundation
import Glibc
import SMTorPCore
import XCTest
@testable import SMTorP

/// A tor process with its own data directory and control port.
final class TorProcess {
    let directory: String
    let controlPort: UInt16
    let process: Process

    /// The cookie Tor writes with CookieAuthentication 1.
    var cookiePath: String { directory + "/data/control_auth_cookie" }

    private init(directory: String, controlPort: UInt16, process: Process) {
        self.directory = directory
        self.controlPort = controlPort
        self.process = process
    }

    /// Starts tor and waits until its control port accepts connections.
    static func start(file: StaticString = #filePath, line: UInt = #line) throws -> TorProcess {
        guard let torPath = ["/usr/bin/tor", "/usr/sbin/tor", "/usr/local/bin/tor"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("tor is not installed (scripts/setup.sh installs it)")
        }
        var lastError = ""
        for _ in 0..<5 {  // a port found free can be taken before tor binds it
            let directory = NSTemporaryDirectory() + "smtorp-tor-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
            let port = try freeLoopbackPort()
            let torrc = """
                DisableNetwork 1
                SocksPort 0
                ControlPort 127.0.0.1:\(port)
                CookieAuthentication 1
                DataDirectory \(directory)/data
                GeoIPFile /dev/null
                GeoIPv6File /dev/null
                __OwningControllerProcess \(getpid())
                Log notice file \(directory)/notice.log

                """
            try torrc.write(toFile: directory + "/torrc", atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: torPath)
            process.arguments = ["-f", directory + "/torrc", "--defaults-torrc", "/dev/null", "--hush"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let tor = TorProcess(directory: directory, controlPort: port, process: process)
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline && process.isRunning {
                if canConnect(port: port) && FileManager.default.fileExists(atPath: tor.cookiePath) {
                    return tor
                }
                usleep(20_000)  // polling interval of the wait, not a synchronisation
            }
            lastError = (try? String(contentsOfFile: directory + "/notice.log", encoding: .utf8)) ?? "no log"
            tor.stop()
        }
        throw NSError(domain: "TorProcess", code: 1,
                      userInfo: [NSLocalizedDescriptionKey: "tor did not open its control port: " + lastError])
    }

    /// SIGTERM, then SIGKILL if tor is still there after 10 seconds; then
    /// removes the directory.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A loopback port below the ephemeral range (32768+) that is free now.
    static func freeLoopbackPort() throws -> UInt16 {
        for _ in 0..<200 {
            let port = UInt16.random(in: 20000..<32000)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if bound == 0 { return port }
        }
        throw NSError(domain: "TorProcess", code: 2, userInfo: [NSLocalizedDescriptionKey: "no free port"])
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func canConnect(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// Stops the loop when the deadline passes, and remembers that it did.
private final class Deadline {
    let loop: EventLoop
    var fired = false
    init(loop: EventLoop) { self.loop = loop }
}

/// A re-armed timer calling `check` until it returns true.
private final class Poller {
    let check: () -> Bool
    let interval: UInt64
    var timer: OpaquePointer?
    init(check: @escaping () -> Bool, interval: UInt64) {
        self.check = check
        self.interval = interval
    }
    deinit { smtorp_timer_free(timer) }
}

final class TorControllerTests: XCTestCase {
    var tor: TorProcess!
    var loop: EventLoop!

    override func setUpWithError() throws {
        tor = try TorProcess.start()
        let started = tor!
        addTeardownBlock { started.stop() }
        loop = try EventLoop()
    }

    /// Runs the loop until `start`'s completion is called (which stops the
    /// loop), or fails the test when the deadline timer fires first.
    private func wait<T>(_ what: String, milliseconds: UInt64 = 20_000,
                         _ start: (@escaping (T) -> Void) -> Void) -> T? {
        var result: T?
        let loop = self.loop!
        start { value in
            result = value
            loop.stop()
        }
        if result != nil { return result }
        let deadline = Deadline(loop: loop)
        var timer: OpaquePointer?
        XCTAssertEqual(smtorp_timer_new(loop.raw, { arg in
            guard let arg else { return }
            let deadline = Unmanaged<Deadline>.fromOpaque(arg).takeUnretainedValue()
            deadline.fired = true
            deadline.loop.stop()
        }, Unmanaged.passUnretained(deadline).toOpaque(), &timer), SMTORP_OK)
        smtorp_timer_start(timer, milliseconds)
        XCTAssertTrue(loop.run())
        smtorp_timer_free(timer)
        if result == nil {
            XCTFail("no answer within " + String(milliseconds) + " ms: " + what + (deadline.fired ? "" : " (loop ended)"))
        }
        return withExtendedLifetime(deadline) { result }
    }

    private func controller(_ configuration: ControlConfiguration = ControlConfiguration()) -> TorController {
        TorController(loop: loop, host: "127.0.0.1", port: tor.controlPort, configuration: configuration,
                      logger: Logger(threshold: .error))
    }

    func testSafeCookieGetInfoAddAndDelOnion() throws {
        let control = controller()
        let auth = try XCTUnwrap(wait("authentication") { control.authenticate($0) }).get()
        XCTAssertEqual(auth.method, .safeCookie)
        XCTAssertEqual(auth.protocolInfo.cookieFile, tor.cookiePath)
        XCTAssertTrue(auth.protocolInfo.authMethods.contains("SAFECOOKIE"))
        XCTAssertTrue(control.isAuthenticated)

        let info = try XCTUnwrap(wait("GETINFO") {
            control.getInfo(["version", "status/bootstrap-phase", "net/listeners/socks"], completion: $0)
        }).get()
        let version = try XCTUnwrap(info["version"])
        XCTAssertTrue(version.hasPrefix("0.4."), version)
        XCTAssertEqual(auth.protocolInfo.torVersion.map { version.hasPrefix($0) }, true)
        let phase = try ControlBootstrapPhase(parsing: try XCTUnwrap(info["status/bootstrap-phase"]))
        XCTAssertLessThanOrEqual(phase.progress, 100)
        XCTAssertEqual(try ControlSyntax.quotedList(try XCTUnwrap(info["net/listeners/socks"])), [],
                       "SocksPort 0: no SOCKS listener")
        XCTAssertEqual(try XCTUnwrap(wait("version") { control.version(completion: $0) }).get(), version)
        XCTAssertEqual(try XCTUnwrap(wait("bootstrap") { control.bootstrapPhase(completion: $0) }).get().tag,
                       "starting", "DisableNetwork: bootstrapping never starts")
        XCTAssertEqual(try XCTUnwrap(wait("socks") { control.socksListeners(completion: $0) }).get(), [])

        var events: [ControlEvent] = []
        control.onEvent = { events.append($0) }
        XCTAssertNoThrow(try XCTUnwrap(wait("SETEVENTS") { control.setEvents(["HS_DESC"], completion: $0) }).get())

        // Three node identities: Tor derives the same address from the
        // expanded key as smtorp does from the seed.
        var services: [String] = []
        for index in 0..<3 {
            let identity = try NodeIdentity.loadOrCreate(dataDirectory: tor.directory + "/node" + String(index))
            let blob = try identity.torPrivateKeyBlob()
            let service = try XCTUnwrap(wait("ADD_ONION") {
                control.addOnion(keyBlob: blob, virtualPort: 25, target: "127.0.0.1:2525", completion: $0)
            }).get()
            XCTAssertEqual(service.serviceID, identity.onion.label)
            XCTAssertNil(service.privateKey, "an existing key is not sent back")
            services.append(service.serviceID)
        }
        let current = try XCTUnwrap(wait("GETINFO onions/current") {
            control.getInfo(["onions/current"], completion: $0)
        }).get()
        XCTAssertEqual(Set((current["onions/current"] ?? "").split(separator: "\n").map(String.init)), Set(services))

        // The same key again: Tor refuses, and the connection goes on.
        let identity0 = try NodeIdentity.loadOrCreate(dataDirectory: tor.directory + "/node0")
        let again = try XCTUnwrap(wait("ADD_ONION again") {
            control.addOnion(keyBlob: try! identity0.torPrivateKeyBlob(), virtualPort: 25,
                             target: "127.0.0.1:2525", completion: $0)
        })
        XCTAssertEqual(again.failure, .rejected(code: 550, text: "Onion address collision"))

        for service in services {
            XCTAssertNoThrow(try XCTUnwrap(wait("DEL_ONION") { control.delOnion(serviceID: service, completion: $0) })
                .get())
        }
        let gone = try XCTUnwrap(wait("DEL_ONION of a deleted service") {
            control.delOnion(serviceID: services[0], completion: $0)
        })
        XCTAssertEqual(gone.failure, .rejected(code: 552, text: "Unknown Onion Service id"))
        let empty = try XCTUnwrap(wait("GETINFO onions/current") {
            control.getInfo(["onions/current"], completion: $0)
        }).get()
        XCTAssertEqual(empty["onions/current"], "")
        let unknown = try XCTUnwrap(wait("GETINFO nope") { control.getInfo(["nope"], completion: $0) })
        XCTAssertEqual(unknown.failure, .rejected(code: 552, text: #"Unrecognized key "nope""#))

        // With the network disabled nothing is uploaded; CREATED events may
        // come, and any HS_DESC event seen is well-formed.
        for case .hsDescriptor(let event) in events {
            XCTAssertTrue(event.address.map(services.contains) ?? true)
        }

        // Commands pipelined in one go are answered in order.
        var order: [String] = []
        _ = wait("pipelined commands") { (done: @escaping (Bool) -> Void) in
            control.getInfo(["version"]) { _ in order.append("version") }
            control.setEvents([]) { _ in order.append("setevents") }
            control.getInfo(["status/bootstrap-phase"]) { _ in
                order.append("bootstrap")
                done(true)
            }
        }
        XCTAssertEqual(order, ["version", "setevents", "bootstrap"])

        var closedFailure: ControlError?
        control.onFailure = { closedFailure = $0 }
        let late = wait("command after close") { (done: @escaping (Result<[String: String], ControlError>) -> Void) in
            control.close()
            control.getInfo(["version"], completion: done)
        }
        XCTAssertEqual(late?.failure, .connectionClosed)
        XCTAssertNil(closedFailure, "closing on purpose is not a failure")
    }

    func testWrongCookieIsRefusedWithAClearError() throws {
        // A copy of the cookie with one bit flipped: Tor's SERVERHASH cannot
        // match it, and the controller must refuse to authenticate.
        var cookie = try Data(contentsOf: URL(fileURLWithPath: tor.cookiePath))
        XCTAssertEqual(cookie.count, 32)
        cookie[5] ^= 0x01
        let wrong = tor.directory + "/wrong_cookie"
        try cookie.write(to: URL(fileURLWithPath: wrong))
        let control = controller(ControlConfiguration(cookiePath: wrong))
        let result = try XCTUnwrap(wait("authentication") { control.authenticate($0) })
        XCTAssertEqual(result.failure, .serverHashMismatch(cookiePath: wrong))
        XCTAssertTrue(result.failure?.message.contains("does not know the cookie") ?? false,
                      result.failure?.message ?? "")
        XCTAssertFalse(control.isAuthenticated)
        // Commands after the refusal fail at once with the same error.
        let after = try XCTUnwrap(wait("GETINFO after refusal") { control.getInfo(["version"], completion: $0) })
        XCTAssertEqual(after.failure, .serverHashMismatch(cookiePath: wrong))
    }

    func testCookieProblemsAndUnreachablePort() throws {
        let short = tor.directory + "/short_cookie"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: short))
        let control = controller(ControlConfiguration(cookiePath: short))
        let result = try XCTUnwrap(wait("authentication") { control.authenticate($0) })
        XCTAssertEqual(result.failure, .invalidCookie(path: short, length: 3))

        let missing = tor.directory + "/no_such_cookie"
        let control2 = controller(ControlConfiguration(cookiePath: missing))
        let result2 = try XCTUnwrap(wait("authentication") { control2.authenticate($0) })
        guard case .cookieUnreadable(let path, _)? = result2.failure else { return XCTFail("\(result2)") }
        XCTAssertEqual(path, missing)

        // Nothing listens on a fresh free port.
        let port = try TorProcess.freeLoopbackPort()
        let nowhere = TorController(loop: loop, host: "127.0.0.1", port: port, logger: Logger(threshold: .error))
        let result3 = try XCTUnwrap(wait("connection") { nowhere.authenticate($0) })
        guard case .connectionFailed? = result3.failure else { return XCTFail("\(result3)") }
        let notConnected = try XCTUnwrap(wait("command without authenticate") {
            TorController(loop: loop, host: "127.0.0.1", port: port).getInfo(["version"], completion: $0)
        })
        XCTAssertEqual(notConnected.failure, .notConnected)
    }

    func testTakeOwnershipAndResetConfAsForAManagedTor() throws {
        let control = controller()
        XCTAssertNoThrow(try XCTUnwrap(wait("authentication") { control.authenticate($0) }).get())
        XCTAssertNoThrow(try XCTUnwrap(wait("TAKEOWNERSHIP") { control.takeOwnership(completion: $0) }).get())
        XCTAssertNoThrow(try XCTUnwrap(wait("RESETCONF") {
            control.resetConf(["__OwningControllerProcess"], completion: $0)
        }).get())
        // Owned by this connection now: closing it makes tor exit. The loop
        // runs meanwhile (the core flushes and closes the socket on it).
        let process = tor.process
        let exited = wait("tor to exit after its owner closed") { (done: @escaping (Bool) -> Void) in
            control.close()
            poll(every: 20) {
                guard !process.isRunning else { return false }
                done(true)
                return true
            }
        }
        XCTAssertEqual(exited, true, "tor exits when its owning control connection closes")
    }

    /// Calls `check` on the loop every `milliseconds` until it returns true.
    private func poll(every milliseconds: UInt64, _ check: @escaping () -> Bool) {
        let poller = Poller(check: check, interval: milliseconds)
        XCTAssertEqual(smtorp_timer_new(loop.raw, { arg in
            guard let arg else { return }
            let poller = Unmanaged<Poller>.fromOpaque(arg).takeUnretainedValue()
            if poller.check() {
                Unmanaged<Poller>.fromOpaque(arg).release()  // the timer's reference
            } else {
                smtorp_timer_start(poller.timer, poller.interval)
            }
        }, Unmanaged.passRetained(poller).toOpaque(), &poller.timer), SMTORP_OK)
        smtorp_timer_start(poller.timer, milliseconds)
    }
}

private extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
