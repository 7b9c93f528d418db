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
}
