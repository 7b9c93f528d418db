import Glibc
import QQCore

exit(FrontCommand.main(arguments: Array(CommandLine.arguments.dropFirst()), environment: Environment.current()).code)
