import Glibc

/// R11: the first non-empty of `LOGNAME`, `USER`, `LNAME`, `USERNAME`; else the password-database
/// name of the real uid; else the uid as digits (never empty, so scratch paths stay well-formed).
public func userName(environment: Environment) -> String {
    for name in ["LOGNAME", "USER", "LNAME", "USERNAME"] {
        if let v = environment.nonEmpty(name) { return v }
    }
    let uid = getuid()
    var pwd = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 4096)
    let rc = getpwuid_r(uid, &pwd, &buffer, buffer.count, &result)
    if rc == 0, result != nil, let name = pwd.pw_name {
        let s = String(cString: name)
        if !s.isEmpty { return s }
    }
    return String(uid)
}
