// swift-tools-version:6.0
//
// smtorp: the Simple Mail Tor Protocol.
//
//   SMTorPCore  (C, CSources/core, header include/smtorp_core.h): sockets, TLS,
//               files, hash kernels, on libevent, OpenSSL and libsodium.
//   SMTorP      (Swift, Sources/SMTorP): SMTP state machines, addresses,
//               policy, and the thin adapter onto the C core. Kept inside the
//               Embedded Swift subset (see scripts/check-embedded.sh).
//   smtorp      (Swift, Sources/smtorp): the command-line tool.
//
// The C libraries are linked by name; scripts/build-static.sh links them
// statically by putting a folder of .a symlinks first on the search path.
import PackageDescription

let package = Package(
    name: "smtorp",
    products: [
        .executable(name: "smtorp", targets: ["smtorp"]),
        .library(name: "SMTorP", targets: ["SMTorP"]),
        .library(name: "SMTorPCore", targets: ["SMTorPCore"]),
    ],
    targets: [
        .systemLibrary(name: "CLibEvent", path: "CSources/system/libevent"),
        .systemLibrary(name: "CLibEventOpenSSL", path: "CSources/system/libevent_openssl"),
        .systemLibrary(name: "COpenSSL", path: "CSources/system/openssl"),
        .systemLibrary(name: "CSodium", path: "CSources/system/libsodium"),
        .systemLibrary(name: "CQREncode", path: "CSources/system/libqrencode"),
        .target(
            name: "SMTorPCore",
            dependencies: ["CLibEvent", "CLibEventOpenSSL", "COpenSSL", "CSodium"],
            path: ".",
            sources: ["CSources/core"],
            publicHeadersPath: "include",
            cSettings: [
                // -O2 also in debug builds: the proof-of-work kernels are 10x
                // slower at -O0, which would make every test that solves a
                // stamp (and every debug node sending mail) crawl.
                .unsafeFlags(["-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]),
            ],
            linkerSettings: [
                .linkedLibrary("event_openssl"),
                .linkedLibrary("event_core"),
                .linkedLibrary("ssl"),
                .linkedLibrary("crypto"),
                .linkedLibrary("sodium"),
            ]
        ),
        .target(name: "SMTorP", dependencies: ["SMTorPCore"]),
        .executableTarget(name: "smtorp", dependencies: ["SMTorP", "CQREncode"]),
        .testTarget(name: "SMTorPTests", dependencies: ["SMTorP"], exclude: ["Transcripts"]),
    ]
)
