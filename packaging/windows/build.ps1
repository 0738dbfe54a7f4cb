# Build the Windows till on a Windows machine: the PyInstaller bundle dist\pos\ (pos.exe) from
# packaging\pos.spec, then dist\storelink-pos-<version>.msi from it with the same authoring script
# CI uses on Linux (packaging\windows\msi.py, wixl + msibuild from MSYS2's msitools).
#
# NOT RUN IN CI: the project's CI is Linux; there the MSI is authored from the Linux bundle and
# installed with wine (docs/deploying.md, "What was tested where").
#
# Needs: Windows 10/11 x64, Python 3.11 x64 (the `py` launcher), and MSYS2 (winget install
# MSYS2.MSYS2, or -Msys2 pointing at an existing one). Run from anywhere:
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1
param(
    [string]$Python = "py -3.11",
    [string]$Msys2 = "C:\msys64"
)
$ErrorActionPreference = "Stop"
$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
Set-Location $Root

function Run([string]$Command) {
    Write-Host "> $Command"
    Invoke-Expression $Command
    if ($LASTEXITCODE -ne 0) { throw "failed ($LASTEXITCODE): $Command" }
}

# 1. A build venv with the app and PyInstaller (the `packaging` extra), as `make bundle` has.
if (-not (Test-Path ".venv-win\Scripts\python.exe")) { Run "$Python -m venv .venv-win" }
$Py = Join-Path $Root ".venv-win\Scripts\python.exe"
Run "& '$Py' -m pip install -q --upgrade pip"
Run "& '$Py' -m pip install -q '.[packaging]'"

# 2. The onedir bundle, frozen here because PyInstaller cannot cross-compile: dist\pos\pos.exe.
Run "& '$Py' -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller packaging\pos.spec"
Run "& '$Root\dist\pos\pos.exe' --self-test"

# 3. msitools (wixl, msibuild) from MSYS2's UCRT64 environment.
$Bash = Join-Path $Msys2 "usr\bin\bash.exe"
if (-not (Test-Path $Bash)) { throw "MSYS2 not found at $Msys2 (winget install MSYS2.MSYS2, or pass -Msys2)" }
Run "& '$Bash' -lc 'pacman -S --needed --noconfirm mingw-w64-ucrt-x86_64-msitools'"
$env:WIXL = Join-Path $Msys2 "ucrt64\bin\wixl.exe"
$env:MSIBUILD = Join-Path $Msys2 "ucrt64\bin\msibuild.exe"

# 4. The MSI from the bundle: dist\storelink-pos-<version>.msi.
Run "& '$Py' packaging\windows\msi.py --bundle dist\pos"
