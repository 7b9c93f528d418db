import Glibc
import QQCore

// Everything, option parsing included, lives in QQInfoCommand so it can be tested.
exit(QQInfoCommand.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: Environment.current()).code)
