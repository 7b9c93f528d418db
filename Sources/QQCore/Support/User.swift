import Glibc

/// R11: the first non-empty of `LOGNAME`, `USER`, `LNAME`, `USERNAME` (qq's `getpass.getuser()`);
/// else the name of the real uid in /etc/passwd; else the uid as digits (never empty, so scratch
/// paths stay well-formed). /etc/passwd is read directly instead of through `getpwuid`: a static
/// binary cannot load the node's NSS modules (LDAP, SSSD), and under Slurm the variables are set.
package func userName(environment: Environment) -> String {
    for name in ["LOGNAME", "USER", "LNAME", "USERNAME"] {
        if let v = environment.nonEmpty(name) { return v }
    }
    return PasswdUser.cached
}

private enum PasswdUser {
    // Read once per process, so the DEBUG line is written once however often the name is needed.
    static let cached: String = {
        let uid = getuid()
        if let text = try? FileSystem.readSmallFile("/etc/passwd"), let name = passwdName(uid: uid, passwdFile: text) {
            return name
        }
        Log.debug("LOGNAME, USER, LNAME and USERNAME are empty and uid \(uid) is not in /etc/passwd; using '\(uid)' as the user name.")
        return String(uid)
    }()
}

/// The name of the first `name:password:uid:…` line of a passwd file with this uid. NIS
/// compatibility lines (`+…`, `-…`) are skipped: they name no local user.
func passwdName(uid: uid_t, passwdFile text: String) -> String? {
    let wanted = String(uid)
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count >= 3, let first = fields[0].first, first != "+", first != "-" else { continue }
        if fields[2] == wanted { return String(fields[0]) }
    }
    return nil
}
