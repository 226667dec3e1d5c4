; Inno Setup script for Hearth: a per-user install (no administrator rights),
; a Start-menu entry and an uninstaller. Built by scripts/build-installer on
; Windows with /DAppVersion=... /DSourceDir=<the PyInstaller onedir folder>.
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\pyinstaller\hearth"
#endif

[Setup]
AppId={{6C3E9F0A-4B6B-4E59-9C1F-3F3A6E0B7D21}
AppName=Hearth
AppVersion={#AppVersion}
AppPublisher=The Hearth team
DefaultDirName={localappdata}\Programs\Hearth
DefaultGroupName=Hearth
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
OutputBaseFilename=Hearth-{#AppVersion}-setup
Compression=lzma2/fast
SolidCompression=no
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
UninstallDisplayIcon={app}\hearth.exe
SetupIconFile=..\..\resources\icons\hearth.ico
WizardStyle=modern
DisableProgramGroupPage=yes

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Hearth"; Filename: "{app}\hearth.exe"
Name: "{group}\Uninstall Hearth"; Filename: "{uninstallexe}"
Name: "{userdesktop}\Hearth"; Filename: "{app}\hearth.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\hearth.exe"; Description: "Start Hearth"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Models and chats live in the user's data folder and are kept on uninstall.
Type: filesandordirs; Name: "{app}"
