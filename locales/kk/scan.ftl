# Кодты тексеру (сканерлеу) нәтижесі, қазақша: шешім (scan-verdict-), код
# мәртебесі (scan-status-), тауар карточкасының белгілері (scan-label-) және
# сканерлеу қателері (error-code-).

scan-verdict-genuine = Түпнұсқа: код Таңба жүйесінде тіркелген, тауар заңды айналымда.
scan-verdict-not-found = Код Таңба жүйесінде табылмады. Тауар жалған болуы мүмкін: оны сатып алмаңыз және бұзушылық туралы хабарлаңыз.
scan-verdict-invalid-signature = Кодтың криптоқолтаңбасы дұрыс емес: бұл кодты Таңба жүйесі шығармаған. Тауар жалған болуы мүмкін.
scan-verdict-not-in-circulation = Тауар айналымда емес: оны сатуға болмайды.
scan-verdict-sold = Бұл кодпен тауар сатылып кеткен. Оны қайта сатса, бұл көшірме болуы мүмкін.
scan-verdict-written-off = Код есептен шығарылған: бұл тауарды сатуға болмайды.
scan-verdict-blocked = Кодты инспектор бұғаттаған: бұл тауарды сатуға болмайды.
scan-verdict-suspected-clone = Код көшірілген болуы мүмкін: бұл тауарды сатып алмаңыз және бұзушылық туралы хабарлаңыз.

# Код неге көшірме деп күдіктелетіні: шешімнің астындағы жол.
scan-clone-far-apart = Бұл кодты жақында басқа жерде — осы жерден { $km } км-ден астам қашықтықта тексерген. Нағыз тауар бұлай тез орын ауыстыра алмайды.
scan-clone-offered-after-sale = Бұл кодпен тауар сатылып кеткен, бірақ оны қайтадан сатуға ұсынып отыр.

scan-status-emitted = Шығарылған, тауарға әлі түсірілмеген
scan-status-applied = Тауарға түсірілген, айналымға енгізілмеген
scan-status-introduced = Айналымда
scan-status-retired = Айналымнан шығарылған
scan-status-written-off = Есептен шығарылған

scan-page-title = Тауарды тексеру
scan-label-code = Таңба коды
scan-label-product = Тауар
scan-label-gtin = Тауар коды (GTIN)
scan-label-serial = Сериялық нөмір
scan-label-product-group = Тауар тобы
scan-label-manufacturer = Өндіруші
scan-label-country = Өндірілген ел
scan-label-importer = Импорттаушы
scan-label-customs-declaration = Тауарларға арналған декларация
scan-label-production = Өндірілген жері мен күні
scan-label-certificate = Сәйкестік сертификаты
scan-label-declaration = Сәйкестік туралы декларация
scan-label-test-certificate = Сынақ хаттамасы
scan-label-price = Ұсынылатын бөлшек баға
scan-label-status = Код мәртебесі
scan-label-life = Код тарихы
scan-life-emitted = Шығарылды
scan-life-introduced = Айналымға енгізілді
scan-life-sold = Сатылды
scan-not-stated = көрсетілмеген
scan-no-product = Тауар карточкасы толтырылмаған.
scan-other-language = Русская версия
scan-document = № { $number }, { $date } ж.
scan-price = { $amount } теңге

error-code-malformed = Код танылмады.
error-code-not-a-unit = Бұл көліктік қаптаманың коды (SSCC). Тауар данасының кодын сканерлеңіз.
error-scan-place-invalid = Тексеру орны қате көрсетілген: екі координата да қажет — ендік lat −90-нан 90-ға дейін және бойлық lon −180-нен 180-ге дейін, градуспен.
error-scan-context-invalid = Тексеру мақсаты белгісіз: context тек check немесе shop болуы мүмкін.
