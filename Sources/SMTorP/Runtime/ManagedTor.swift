// ManagedTor.swift: the tor process smtorp runs itself when the
// configuration names no existing tor (tor_control).
//
// Layout, all inside the node's data directory:
//   tor/torrc            written at each start
//   tor/data/            tor's DataDirectory (tor keeps it 0700)
//   tor/control_port     written by tor: "PORT=127.0.0.1:<port>"
//   tor/control_auth_cookie
//   tor/notice.log       tor's log; tor/stdout.log its standard output
// Both ports are "auto" so two nodes on one machine never collide; the
// SOCKS port is read back over the control port. __OwningControllerProcess
// makes tor exit if smtorp dies, and the C core also gives the child
// PR_SET_PDEATHSIG, so no orphan tor is left behind.
//
// Untrusted input: the control_port file tor writes (parsed strictly).
import SMTorPCore

/// A tor child process with its own torrc.
public final class ManagedTor {
    let loop: EventLoop
    let binary: String
    let directory: String
    let include: String?
    let logger: Logger
    var process: OpaquePointer?
    var onExit: ((Int32) -> Void)?

    /// Seconds between SIGTERM and SIGKILL when stopping (tor can hang
    /// after SIGTERM, ../shared/FACTS.md).
    public static let stopGraceMilliseconds: UInt64 = 5000

    public init(loop: EventLoop, binary: String, dataDirectory: String, include: String?, logger: Logger) {
        self.loop = loop
        self.binary = binary
        self.directory = dataDirectory + "/tor"
        self.include = include
        self.logger = logger
    }

    deinit { stop() }

    /// Where tor writes its control port.
    public var controlPortFile: String { directory + "/control_port" }
    /// The control cookie.
    public var cookieFile: String { directory + "/control_auth_cookie" }

    /// The torrc for this node.
    public func torrc() -> String {
        var t = "# written by smtorp at each start of its managed tor; edits are lost\n"
        t += "DataDirectory " + directory + "/data\n"
        t += "ControlPort auto\n"
        t += "ControlPortWriteToFile " + controlPortFile + "\n"
        t += "CookieAuthentication 1\n"
        t += "CookieAuthFile " + cookieFile + "\n"
        t += "SocksPort auto ExtendedErrors\n"
        t += "__OwningControllerProcess " + String(smtorp_process_id()) + "\n"
        t += "Log notice file " + directory + "/notice.log\n"
        t += "AvoidDiskWrites 1\n"
        if let include { t += "%include " + include + "\n" }
        return t
    }

    /// Starts tor; `onExit` runs on the loop when it exits (wait status).
    public func start(onExit: @escaping (Int32) -> Void) throws(CoreError) {
        try DurableFile.makeDirectory(directory)
        try CoreError.check(smtorp_fs_remove(controlPortFile), context: controlPortFile)
        try DurableFile.replace(path: directory + "/torrc", parts: [Array(torrc().utf8)])
        self.onExit = onExit
        var resolved = [CChar](repeating: 0, count: 4096)
        try CoreError.check(smtorp_find_program(binary, &resolved, resolved.count),
                            context: "finding `" + binary + "` (install tor, or set tor_binary)")
        let program = string(fromCBuffer: resolved)
        let argv = [program, "-f", directory + "/torrc", "--ignore-missing-torrc"]
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdupSwift($0) }
        cArgs.append(nil)
        defer { for p in cArgs { p?.deallocate() } }
        var raw: OpaquePointer? = nil
        let result = cArgs.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { argvPointer in
                smtorp_process_spawn(loop.raw, program, argvPointer, directory + "/stdout.log", { _, status, arg in
                    guard let arg else { return }
                    let tor = Unmanaged<ManagedTor>.fromOpaque(arg).takeUnretainedValue()
                    tor.onExit?(status)
                }, Unmanaged.passUnretained(self).toOpaque(), &raw)
            }
        }
        try CoreError.check(result, context: "starting " + program)
        smtorp_process_free(process)
        process = raw
        logger.info("started tor (pid " + String(smtorp_process_pid(raw)) + "), log in " + directory + "/notice.log")
    }

    /// The pid of the running tor, or 0.
    public var pid: Int32 { process.map { smtorp_process_is_running($0) != 0 ? smtorp_process_pid($0) : 0 } ?? 0 }

    /// The control port tor wrote, once it has written it.
    public func controlPort() -> ListenAddress? {
        guard let bytes = try? DurableFile.read(path: controlPortFile, maxLength: 256) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.utf8.split(separator: UInt8(ascii: "\n")) {
            let l = String(decoding: trim(Array(line)), as: UTF8.self)
            if l.hasPrefix("PORT=") { return ListenAddress(parsing: String(l.dropFirst(5))) }
        }
        return nil
    }

    /// Stops tor: SIGTERM, then SIGKILL after the grace period; waits for it.
    public func stop() {
        guard let process else { return }
        onExit = nil
        if smtorp_process_is_running(process) != 0 {
            _ = smtorp_process_signal(process, 15)
            if smtorp_process_wait(process, Self.stopGraceMilliseconds) == 0 {
                logger.warning("tor did not stop after SIGTERM; killing it")
                _ = smtorp_process_signal(process, 9)
                _ = smtorp_process_wait(process, Self.stopGraceMilliseconds)
            }
        }
        smtorp_process_free(process)
        self.process = nil
    }
}

/// A NUL-terminated heap copy of a Swift string (freed by the caller).
func strdupSwift(_ s: String) -> UnsafeMutablePointer<CChar> {
    let bytes = Array(s.utf8)
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
    for (i, b) in bytes.enumerated() { p[i] = CChar(bitPattern: b) }
    p[bytes.count] = 0
    return p
}
