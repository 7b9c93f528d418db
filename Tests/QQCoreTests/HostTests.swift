import Glibc
import Testing
@testable import QQCore

@Suite struct HostTests {
    @Test(arguments: [
        ("node07", "NODE07", true),
        ("node07", "node07.cluster.example.org", true),
        ("node07.cluster.example.org", "node07", true),
        ("node07.a.org", "node07.b.org", false),
        ("node07", "node08", false),
        ("Node07.Example.Org", "node07.example.org", true),
    ])
    func hostEqualityFollowsR12(a: String, b: String, equal: Bool) {
        #expect(hostsEqual(a, b) == equal)
    }

    @Test func thisHostIsNeverLocalhostUnlessGethostnameSaysSo() {
        let name = thisHostName()
        #expect(!name.isEmpty)
        if !gethostnameString().lowercased().hasPrefix("localhost") {
            #expect(!name.lowercased().hasPrefix("localhost"))
        }
        #expect(thisHostName() == name)  // cached
    }

    @Test func thisHostStartsWithTheGethostnameName() {
        let plain = gethostnameString()
        let name = thisHostName()
        #expect(name == plain || name.lowercased().hasPrefix(plain.lowercased() + "."))
    }

    @Test func userNamePrefersLOGNAMEThenUSERThenLNAMEThenUSERNAME() {
        #expect(userName(environment: Environment(["LOGNAME": "a", "USER": "b"])) == "a")
        #expect(userName(environment: Environment(["LOGNAME": "", "USER": "b", "LNAME": "c"])) == "b")
        #expect(userName(environment: Environment(["LNAME": "c", "USERNAME": "d"])) == "c")
        #expect(userName(environment: Environment(["USERNAME": "d"])) == "d")
    }

    @Test func userNameFallsBackToThePasswordDatabase() {
        let name = userName(environment: Environment([:]))
        #expect(!name.isEmpty)
        if let pw = getpwuid(getuid()), let n = pw.pointee.pw_name { #expect(name == String(cString: n)) }
    }

    // Issue 9: without NSS (static binaries) the host and user come from /etc/hosts and /etc/passwd.

    @Test func fullNameIsTheFirstDottedNameOfTheHostsLineNamingTheHost() {
        let hosts = """
            # comment line
            127.0.0.1   localhost
            10.1.2.7    node07.cluster.example.org node07   # the node
            10.1.2.8    node08.cluster.example.org node08
            """
        #expect(fullyQualifiedName(of: "node07", hostsFile: hosts) == "node07.cluster.example.org")
        #expect(fullyQualifiedName(of: "NODE08", hostsFile: hosts) == "node08.cluster.example.org")
    }

    @Test func fullNameComesFromAnyLineWithTheSameAddressAsGlibcMultiOn() {
        let hosts = "10.1.2.7 node07\n10.1.2.7 node07.cluster.example.org n7\n"
        #expect(fullyQualifiedName(of: "node07", hostsFile: hosts) == "node07.cluster.example.org")
        #expect(fullyQualifiedName(of: "node07", hostsFile: "::1 node07\n0:0::1 node07.v6.example.org\n") == "node07.v6.example.org")
    }

    @Test func hostsFileNeverYieldsLocalhostForAnotherHost() {
        let hosts = "127.0.0.1 localhost localhost.localdomain\n127.0.0.1 vm\n"
        #expect(fullyQualifiedName(of: "vm", hostsFile: hosts) == nil)
        #expect(fullyQualifiedName(of: "localhost", hostsFile: hosts) == "localhost.localdomain")
    }

    @Test func hostMissingFromTheHostsFileOrWithoutADottedNameHasNoFullName() {
        #expect(fullyQualifiedName(of: "node09", hostsFile: "10.1.2.7 node07.cluster.example.org node07\n") == nil)
        #expect(fullyQualifiedName(of: "node07", hostsFile: "10.1.2.7 node07 n7\n") == nil)
        #expect(fullyQualifiedName(of: "node07", hostsFile: "not-an-address node07.example.org node07\n") == nil)
    }

    @Test func passwdNameIsTheNameOfTheLineWithThatUid() {
        let passwd = """
            root:x:0:0:root:/root:/bin/bash
            +nisuser:x:1000:1000::/home/nis:/bin/sh
            alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
            bob:x:10001:100::/home/bob:/bin/sh
            """
        #expect(passwdName(uid: 0, passwdFile: passwd) == "root")
        #expect(passwdName(uid: 1000, passwdFile: passwd) == "alice")
        #expect(passwdName(uid: 100, passwdFile: passwd) == nil)
        #expect(passwdName(uid: 4242, passwdFile: "broken line\n") == nil)
    }
}

@Suite struct VersionTests {
    // scripts/install and scripts/release define the commit; the test build is a plain swift build.
    @Test func versionLineNamesTheVersionAndTheCommitUnknownWithoutTheBuildScripts() {
        #expect(QQVersion.versionLine("qq-run") == "qq-run \(QQVersion.version) (commit unknown)")
    }
}
