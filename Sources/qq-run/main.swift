import Glibc
import QQCore

exit(QQRun.main(arguments: Array(CommandLine.arguments.dropFirst())).code)
