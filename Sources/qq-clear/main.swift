import Glibc
import QQCore

// Everything, option parsing included, lives in QQClearCommand so it can be tested.
exit(QQClearCommand.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: Environment.current()).code)
