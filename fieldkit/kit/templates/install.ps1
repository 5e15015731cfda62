# Install fieldkit from this kit into a new virtual environment on Windows, with no network.
# Usage: .\install.ps1 VENV
# Every file is checked against MANIFEST before anything is installed.
param([Parameter(Mandatory = $true)][string]$Venv)
$ErrorActionPreference = "Stop"
$Kit = Split-Path -Parent $MyInvocation.MyCommand.Path
function Die($msg) { Write-Error "install.ps1: error: $msg"; exit 2 }
if ((Test-Path $Venv) -and (Get-ChildItem $Venv | Measure-Object).Count -gt 0) { Die "$Venv exists and is not empty" }
$lines = Get-Content -LiteralPath (Join-Path $Kit "MANIFEST")
if ($lines[0] -ne "# fieldkit kit manifest 1") { Die "MANIFEST is not a kit manifest" }
$listed = @{}
foreach ($line in $lines) {
    if ($line.StartsWith("#")) { continue }
    $parts = $line -split "  ", 3
    if ($parts.Count -ne 3 -or $parts[0] -notmatch '^[0-9a-f]{64}$' -or
        $parts[2] -notmatch '^[A-Za-z0-9][A-Za-z0-9._+-]*(/[A-Za-z0-9][A-Za-z0-9._+-]*)*$') { Die "malformed MANIFEST line: $line" }
    $file = Join-Path $Kit ($parts[2] -replace '/', '\')
    if (-not (Test-Path -LiteralPath $file -PathType Leaf)) { Die "$($parts[2]) is missing" }
    if ((Get-Item -LiteralPath $file).Length -ne [int64]$parts[1]) { Die "$($parts[2]) has the wrong size" }
    $hash = (Get-FileHash -Algorithm SHA256 -LiteralPath $file).Hash.ToLower()
    if ($hash -ne $parts[0]) { Die "$($parts[2]) does not match its sha256 in MANIFEST" }
    $listed[$parts[2]] = $true
}
foreach ($f in Get-ChildItem -LiteralPath $Kit -Recurse -File) {
    $rel = $f.FullName.Substring($Kit.Length + 1) -replace '\\', '/'
    if ($rel -ne "MANIFEST" -and $rel -ne "MANIFEST.sig" -and -not $listed.ContainsKey($rel)) { Die "$rel is not in MANIFEST" }
}
py -@PYTHON@ -m venv $Venv
if ($LASTEXITCODE -ne 0) { Die "could not create $Venv with Python @PYTHON@ (py -@PYTHON@)" }
& "$Venv\Scripts\python.exe" -m pip install --no-index --find-links (Join-Path $Kit "wheels") --require-hashes -r (Join-Path $Kit "requirements.txt")
if ($LASTEXITCODE -ne 0) { Remove-Item -Recurse -Force $Venv; Die "pip failed; nothing was installed" }
foreach ($pack in Get-ChildItem -LiteralPath (Join-Path $Kit "models") -Directory -ErrorAction SilentlyContinue) {
    & "$Venv\Scripts\fieldkit.exe" models install $pack.FullName
    if ($LASTEXITCODE -ne 0) { Die "model $($pack.Name) did not install" }
}
Write-Output "done: run $Venv\Scripts\fieldkit.exe"
