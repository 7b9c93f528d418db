import QQCore
print(QQVersion.version)
