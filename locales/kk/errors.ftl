# Errors of the HTTP API, in Kazakh. Keys are `error-` and the machine code.
error-not-found = Сұралған ресурс табылмады.
error-internal = Ішкі қате орын алды. Қолдау қызметіне мына нөмірді айтыңыз: { $reference }.
error-payload-too-large = Сұрау тым үлкен: { $length } байт, ең көбі { $limit } байт.
error-not-json = Сұрау денесі JSON болуы керек (Content-Type: application/json).
error-malformed-json = Сұрау денесі дұрыс JSON емес: { $detail }
error-unauthenticated = Кіру қажет: жарамды кіру токені берілмеген немесе оның мерзімі өткен.
error-forbidden = Бұл әрекетке рұқсатыңыз жоқ.
error-body-too-large = Сұрау денесі рұқсат етілген өлшемнен үлкен.
error-method-not-allowed = Бұл мекенжай мұндай HTTP әдісін қабылдамайды.
error-bad-request = Сұрау дұрыс құрылмаған.
error-internal-unreferenced = Ішкі қате орын алды. Кейінірек қайталап көріңіз.

# Бұзушылық туралы хабарламалар (POST /v1/reports, GET /v1/reports/{number})
# және инспекторлардың оларды қарауы.
error-report-not-found = Мұндай нөмірлі хабарлама табылмады немесе құпия код қате.
error-report-rate-limited = Осы құрылғыдан немесе мекенжайдан бұзушылық туралы хабарламалар тым көп жіберілді. { $unit ->
        [seconds] { $count } { $count ->
            [one] секундтан
           *[other] секундтан
        }
       *[minutes] { $count } { $count ->
            [one] минуттан
           *[other] минуттан
        }
    } кейін қайталап көріңіз.
error-report-duplicate = Сіз бұл бұзушылық туралы соңғы тәулікте хабарлағансыз: хабарлама нөмірі { $number }.
error-report-photo-too-large = { $n }-фотосурет тым үлкен: ең көбі { $max_mb } МБ.
error-report-too-many-photos = Фотосуреттер тым көп: ең көбі { $max }.
error-report-photo-not-image = { $n }-фотосурет сурет емес немесе бүлінген (JPEG, PNG және WebP қабылданады).
error-report-not-multipart = Хабарлама multipart/form-data ретінде жіберіледі: JSON бар «report» бөлігі және «photo» бөліктері.
error-report-malformed = Хабарлама дұрыс құрылмаған: { $detail }
error-report-unknown-part = «{ $name }» бөлігі күтілмейді: тек «report» және «photo» бөліктері қабылданады.
error-report-upload-too-large = Жіберілген деректер тым көп: ең көбі { $limit_mb } МБ.
error-report-upload-timeout = Жіберу тым ұзаққа созылды: фотосуреттері бар хабарлама { $secs } секунд ішінде толық жіберілуі керек. Байланыс тұрақтырақ болғанда немесе фотосуреттерді азайтып, қайталап көріңіз.
error-report-bad-device-id = X-Device-Id тақырыбы 1–128 көрінетін ASCII таңбадан тұруы керек.
error-report-status-transition = Хабарламаны «{ $from }» мәртебесінен «{ $to }» мәртебесіне ауыстыруға болмайды.
error-report-no-code = Хабарламада код көрсетілмеген: бұғаттайтын код жоқ.
error-report-code-not-stored = Хабарламадағы код Таңба жүйесінде тіркелмеген: оны бұғаттау мүмкін емес.
error-report-photo-not-found = Хабарламада мұндай фотосурет жоқ.
